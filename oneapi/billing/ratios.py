"""Price ratio lookups (spec section 6.2, plus the image cost multiplier of 6.4).

All functions are pure: the caller passes the *current* option tables (the
``ModelRatio`` / ``CompletionRatio`` / ``GroupRatio`` option values, already
parsed with :func:`parse_ratio_json`); the built-in defaults from
:mod:`oneapi.billing.ratio_defaults` are the fallback layer.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping

from oneapi.billing.ratio_defaults import (
    DEFAULT_COMPLETION_RATIO,
    DEFAULT_IMAGE_SIZE_RATIOS,
    DEFAULT_MODEL_RATIO,
)

log = logging.getLogger("oneapi.billing")

#: Model ratio charged for a model found in neither the option nor the defaults.
UNKNOWN_MODEL_RATIO = 30.0
#: Group ratio of a group missing from the ``GroupRatio`` option.
UNKNOWN_GROUP_RATIO = 1.0

_INTERNET_SUFFIX = "-internet"

# Exact-name completion ratios, consulted after every prefix rule has failed.
# Quotients are written as the float64 nearest to the exact decimal quotient.
_COMPLETION_BY_NAME: dict[str, float] = {
    "llama2-70b-4096": 1.25,  # 0.8 / 0.64
    "llama3-8b-8192": 2.0,
    "llama3-70b-8192": 1.3389830508474576,  # 0.79 / 0.59, exact then rounded
    "command": 2.0,
    "command-light": 2.0,
    "command-nightly": 2.0,
    "command-light-nightly": 2.0,
    "command-r": 3.0,
    "command-r-plus": 5.0,
    "grok-beta": 3.0,
    # Replicate (https://replicate.com/pricing): output price / input price.
    "ibm-granite/granite-20b-code-instruct-8k": 5.0,
    "ibm-granite/granite-3.0-2b-instruct": 8.333333333333334,
    "ibm-granite/granite-3.0-8b-instruct": 5.0,
    "ibm-granite/granite-8b-code-instruct-128k": 5.0,
    "meta/llama-2-13b": 5.0,
    "meta/llama-2-13b-chat": 5.0,
    "meta/llama-2-7b": 5.0,
    "meta/llama-2-7b-chat": 5.0,
    "meta/meta-llama-3-8b": 5.0,
    "meta/meta-llama-3-8b-instruct": 5.0,
    "meta/llama-2-70b": 4.230769230769231,  # 2.75 / 0.65
    "meta/llama-2-70b-chat": 4.230769230769231,
    "meta/meta-llama-3-70b": 4.230769230769231,
    "meta/meta-llama-3-70b-instruct": 4.230769230769231,
    "meta/meta-llama-3.1-405b-instruct": 1.0,
    "mistralai/mistral-7b-instruct-v0.2": 5.0,
    "mistralai/mistral-7b-v0.1": 5.0,
    "mistralai/mixtral-8x7b-instruct-v0.1": 3.3333333333333335,  # 1 / 0.3
}


def _strip_internet(name: str, prefixes: tuple[str, ...]) -> str:
    if name.endswith(_INTERNET_SUFFIX) and name.startswith(prefixes):
        return name[: -len(_INTERNET_SUFFIX)]
    return name


def _lookup(
    name: str,
    channel_type: int,
    current: Mapping[str, float],
    defaults: Mapping[str, float],
) -> float | None:
    qualified = f"{name}({channel_type})"
    for key in (qualified, name):
        ratio = current.get(key)
        if ratio is not None:
            return ratio
        ratio = defaults.get(key)
        if ratio is not None:
            return ratio
    return None


def model_ratio(model: str, channel_type: int, overrides: Mapping[str, float]) -> float:
    """Price ratio of *model* served by a channel of *channel_type*.

    ``-internet`` is stripped from ``qwen-*`` and ``command-*`` names; then
    ``"<model>(<type>)"`` and ``<model>`` are looked up, each first in
    *overrides* (the ``ModelRatio`` option) and then in the defaults.  A model
    found nowhere costs :data:`UNKNOWN_MODEL_RATIO`.
    """
    name = _strip_internet(model, ("qwen-", "command-"))
    ratio = _lookup(name, channel_type, overrides, DEFAULT_MODEL_RATIO)
    if ratio is None:
        log.warning("model ratio not found: %s", name)
        return UNKNOWN_MODEL_RATIO
    return ratio


def completion_ratio(model: str, channel_type: int, overrides: Mapping[str, float]) -> float:
    """Output-token price multiplier of *model* (relative to its input price).

    ``-internet`` is stripped from ``qwen-*`` names only; explicit entries of
    *overrides* (the ``CompletionRatio`` option) and of the defaults win, then
    the built-in rule table applies; anything else is 1.
    """
    name = _strip_internet(model, ("qwen-",))
    ratio = _lookup(name, channel_type, overrides, DEFAULT_COMPLETION_RATIO)
    if ratio is not None:
        return ratio
    return _completion_rule(name)


def _completion_rule(name: str) -> float:
    if name.startswith("gpt-3.5"):
        if name == "gpt-3.5-turbo" or name.endswith("0125"):
            return 3.0
        if name.endswith("1106"):
            return 2.0
        return 4.0 / 3.0
    if name.startswith("gpt-4"):
        if name.startswith("gpt-4o"):
            return 3.0 if name == "gpt-4o-2024-05-13" else 4.0
        if name.startswith("gpt-4-turbo") or name.endswith("preview"):
            return 3.0
        return 2.0
    if name.startswith("o1"):
        return 4.0
    if name == "chatgpt-4o-latest":
        return 3.0
    if name.startswith("claude-3"):
        return 5.0
    if name.startswith(("claude-", "mistral-", "gemini-")):
        return 3.0
    if name.startswith("deepseek-"):
        return 2.0
    return _COMPLETION_BY_NAME.get(name, 1.0)


def group_ratio(group: str, table: Mapping[str, float]) -> float:
    """Ratio of user group *group* in *table* (the ``GroupRatio`` option); unknown -> 1."""
    ratio = table.get(group)
    if ratio is None:
        log.warning("group ratio not found: %s", group)
        return UNKNOWN_GROUP_RATIO
    return ratio


def image_cost_ratio(model: str, size: str, quality: str) -> float:
    """Size/quality multiplier of an image request (spec 6.4).

    The size ratio comes from the default table (1 for unknown models/sizes);
    ``dall-e-3`` with ``quality == "hd"`` costs x2 at 1024x1024, x1.5 otherwise.
    """
    sizes = DEFAULT_IMAGE_SIZE_RATIOS.get(model)
    ratio = sizes.get(size, 1.0) if sizes is not None else 1.0
    if quality == "hd" and model == "dall-e-3":
        ratio *= 2.0 if size == "1024x1024" else 1.5
    return ratio


def _reject_constant(token: str) -> float:
    raise ValueError(f"ratio values must be finite numbers, got {token}")


def parse_ratio_json(text: str) -> dict[str, float]:
    """Validate and parse a ratio option value: a JSON object of name -> finite number.

    Raises :class:`ValueError` with a readable message for malformed JSON, a
    non-object document, or any value that is not a finite number (booleans,
    strings, null, nested values, NaN, +-Infinity, out-of-range numbers).
    """
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid ratio JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"ratio JSON must be an object mapping names to numbers, got {type(data).__name__}"
        )
    result: dict[str, float] = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"ratio for {name!r} must be a number, got {json.dumps(value)[:50]}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError(f"ratio for {name!r} is out of range: {value}")
        result[name] = number
    return result


def merge_missing_model_ratios(stored: Mapping[str, float]) -> dict[str, float]:
    """Return *stored* plus every default model ratio whose key it lacks.

    Stored values always win; nothing is removed (the reference's
    ``AddNewMissingRatio``, applied to the ``ModelRatio`` option on load).
    """
    merged = dict(stored)
    for name, ratio in DEFAULT_MODEL_RATIO.items():
        merged.setdefault(name, ratio)
    return merged
