"""Local token counts, following the reference's rules (spec section 6.6).

Reference: ``relay/adaptor/openai/token.go`` of songquanpeng/one-api.

* Encoder per model: names of the reference's default model-ratio table that
  start with ``gpt-4o`` use o200k_base; the table's other entries go through
  tiktoken's model lookup; everything else (including models that are not in
  the table) uses cl100k_base, as does any model whose encoding is not one of
  the two we ship (the legacy r50k/p50k models).
* Text is encoded as ordinary text: special-token strings such as
  ``<|endoftext|>`` are neither rejected nor mapped to their special ids (the
  reference calls ``Encode(text, nil, nil)``).
* With the ``ApproximateTokenEnabled`` option, every text is estimated as
  ``int(utf8_byte_length * 0.38)`` instead (:func:`set_approximate_enabled`).

Nothing here performs I/O: images given by URL are never downloaded (see
:func:`image_tokens`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import tiktoken

from oneapi.tokenize.encodings import CL100K_BASE, O200K_BASE, get_encoding, is_built
from oneapi.tokenize.imagesize import ImageSizeError, data_url_image_size

DEFAULT_MODEL = "gpt-3.5-turbo"
APPROXIMATE_FACTOR = 0.38

# Entries of the reference's default ModelRatio table (relay/billing/ratio/model.go)
# whose encoder is o200k_base: the ``gpt-4o*`` names, plus the names tiktoken's model
# lookup maps to o200k_base (o1*, o3*, chatgpt-4o-*). Every other name, in the table
# or not, counts with cl100k_base. tests/unit/test_tokenize.py re-derives this set
# from oneapi.billing.ratio_defaults.
#
# Note: the reference's pinned tiktoken-go (v0.1.7) does not know o1/o3/chatgpt-4o
# and so counts those with cl100k_base; we follow tiktoken's current table (o200k,
# which is what those models actually use). Remove those names here to get the
# reference's exact counts.
O200K_MODELS: frozenset[str] = frozenset(
    {
        "gpt-4o",
        "gpt-4o-2024-05-13",
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-11-20",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "chatgpt-4o-latest",
        "o1",
        "o1-2024-12-17",
        "o1-preview",
        "o1-preview-2024-09-12",
        "o1-mini",
        "o1-mini-2024-09-12",
        "o3-mini",
        "o3-mini-2025-01-31",
    }
)

# Per-message overheads. Every message is framed as <|start|>{role/name}\n{content}<|end|>\n.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
# gpt-3.5-turbo-0301 framed messages differently; a name replaces the role there.
TOKENS_PER_MESSAGE_0301 = 4
TOKENS_PER_NAME_0301 = -1
# Every reply is primed with <|start|>assistant<|message|>.
REPLY_PRIMING_TOKENS = 3

# Image costs (OpenAI vision pricing as used by the reference).
LOW_DETAIL_COST = 85
HIGH_DETAIL_COST_PER_TILE = 170
HIGH_DETAIL_BASE_COST = 85
GPT4O_MINI_LOW_DETAIL_COST = 2833
GPT4O_MINI_COST_PER_TILE = 5667
GPT4O_MINI_BASE_COST = 2833

_approximate = False


def set_approximate_enabled(enabled: bool) -> None:
    """Mirror of the ``ApproximateTokenEnabled`` option; call it when options change."""
    global _approximate
    _approximate = bool(enabled)


def approximate_enabled() -> bool:
    return _approximate


def approximate(text: str) -> int:
    """The reference's estimate: ``int(len(utf8 bytes) * 0.38)``."""
    n = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return int(n * APPROXIMATE_FACTOR)


def encoding_name_for_model(model: str) -> str:
    return O200K_BASE if model in O200K_MODELS else CL100K_BASE


def encoder_ready(model: str) -> bool:
    """Whether ``model``'s encoder is built. When it is not, async callers build it
    with ``await asyncio.to_thread(encoder_for_model, model)`` rather than stall
    the event loop for the ~0.3 s that takes (o200k is built on first use)."""
    return is_built(O200K_BASE if model in O200K_MODELS else CL100K_BASE)


def encoder_for_model(model: str) -> tiktoken.Encoding:
    """The encoder used for ``model`` (built on first use, then shared)."""
    return get_encoding(O200K_BASE if model in O200K_MODELS else CL100K_BASE)


def _count(enc: tiktoken.Encoding, text: str) -> int:
    if not text:
        return 0
    if _approximate:
        return approximate(text)
    return len(enc.encode_ordinary(text))


def count_text(text: str, model: str = DEFAULT_MODEL) -> int:
    """Tokens of ``text`` for ``model`` (completion text, audio transcripts, ...)."""
    if not text:
        return 0
    return _count(encoder_for_model(model), text)


def count_input(input: object, model: str = DEFAULT_MODEL) -> int:
    """Prompt tokens of a completions ``prompt`` or a moderations ``input``.

    A string is counted. Anything else - notably a JSON array of strings -
    counts 0: the reference's type switch has a ``[]string`` case that a
    decoded JSON body (``[]any``) never matches (spec section 6.3).
    """
    if isinstance(input, str):
        return count_text(input, model)
    return 0


def count_messages(messages: Sequence[Mapping[str, Any]], model: str = DEFAULT_MODEL) -> int:
    """Prompt tokens of a chat request's ``messages``.

    Per message: a fixed overhead, the content (a string, or the ``text`` and
    ``image_url`` parts of a list), the role, and for a ``name`` the name
    overhead plus the name. Plus 3 for the reply priming. Tool definitions,
    ``tool_calls``, ``tool_call_id`` and function schemas are not counted.
    Malformed parts that would make the reference panic count 0 here.
    """
    enc = encoder_for_model(model)
    if model == "gpt-3.5-turbo-0301":
        per_message, per_name = TOKENS_PER_MESSAGE_0301, TOKENS_PER_NAME_0301
    else:
        per_message, per_name = TOKENS_PER_MESSAGE, TOKENS_PER_NAME
    total = 0
    for message in messages:
        total += per_message
        content = message.get("content")
        if isinstance(content, str):
            total += _count(enc, content)
        elif isinstance(content, list):
            total += _count_parts(enc, content, model)
        role = message.get("role")
        if isinstance(role, str):
            total += _count(enc, role)
        name = message.get("name")
        if isinstance(name, str):
            total += per_name + _count(enc, name)
    return total + REPLY_PRIMING_TOKENS


def _count_parts(enc: tiktoken.Encoding, parts: list[Any], model: str) -> int:
    total = 0
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if isinstance(text, str):
                total += _count(enc, text)
        elif kind == "image_url":
            image = part.get("image_url")
            if isinstance(image, Mapping):
                url = image.get("url")
                detail = image.get("detail")
                if isinstance(url, str) and (detail is None or isinstance(detail, str)):
                    total += image_tokens(url, detail or "", model)
    return total


def image_tokens(url: str, detail: str, model: str) -> int:
    """Prompt tokens of one ``image_url`` part; never downloads anything.

    * ``low`` costs a flat 85 (2833 for ``gpt-4o-mini*``), no size needed.
    * ``high``, ``auto`` and absent are all treated as ``high`` (the reference
      found ``auto`` to be billed as high): the image is scaled to fit 2048x2048,
      then so that its short side is at most 768, and costs 170 per 512px tile
      plus 85 (5667 per tile plus 2833 for ``gpt-4o-mini*``).
    * For ``high`` the size is needed. A ``data:image/...;base64,`` URL is sized
      locally from its header bytes, as the reference does. For any other URL the
      reference downloads the image; we never do, and count what the reference
      counts when that download fails: 0 (its error is logged and the image adds
      nothing). An undecodable data URL also counts 0, as in the reference.
    * Any other ``detail`` value is an error in the reference and counts 0.
    """
    mini = model.startswith("gpt-4o-mini")
    if detail in ("", "auto"):
        detail = "high"
    if detail == "low":
        return GPT4O_MINI_LOW_DETAIL_COST if mini else LOW_DETAIL_COST
    if detail != "high":
        return 0
    if not url.startswith("data:image/"):
        return 0  # remote image: not fetched (see docstring)
    try:
        width, height = data_url_image_size(url)
    except ImageSizeError:
        return 0
    tiles = high_detail_tiles(width, height)
    if mini:
        return tiles * GPT4O_MINI_COST_PER_TILE + GPT4O_MINI_BASE_COST
    return tiles * HIGH_DETAIL_COST_PER_TILE + HIGH_DETAIL_BASE_COST


def high_detail_tiles(width: int, height: int) -> int:
    """Number of 512px tiles of an image in high detail, with the reference's rounding."""
    if width > 2048 or height > 2048:
        ratio = 2048 / max(width, height)
        width, height = int(width * ratio), int(height * ratio)
    if width > 768 and height > 768:
        ratio = 768 / min(width, height)
        width, height = int(width * ratio), int(height * ratio)
    return math.ceil(width / 512) * math.ceil(height / 512)
