"""Request schema of ``PUT /api/option`` and the per-option value rules (spec 8).

Values are stored as strings. A JSON number or boolean is accepted and turned
into the string the reference stores ("true", "500000", "0.5"); a value that
the option cannot use is refused before anything is saved.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import orjson
from marshmallow import EXCLUDE, Schema, fields
from marshmallow.validate import Length

from oneapi.billing.ratios import parse_ratio_json
from oneapi.options import default_options

VALUE_MAX = 1_000_000  # characters; the largest real value (ModelRatio) is far below
MAX_QUOTA = 10**15
THEMES = ("default", "berry", "air")
INVALID_THEME = "无效的主题"

# name: (minimum, maximum) for whole-number options
INT_OPTIONS: dict[str, tuple[int, int]] = {
    "QuotaForNewUser": (0, MAX_QUOTA),
    "QuotaForInviter": (0, MAX_QUOTA),
    "QuotaForInvitee": (0, MAX_QUOTA),
    "QuotaRemindThreshold": (0, MAX_QUOTA),
    "PreConsumedQuota": (0, MAX_QUOTA),
    "RetryTimes": (0, 100),
    "LogRetentionDays": (0, 36500),
    "SMTPPort": (1, 65535),
}
# name: (minimum, maximum, minimum excluded)
FLOAT_OPTIONS: dict[str, tuple[float, float, bool]] = {
    "QuotaPerUnit": (0.0, 1e15, True),
    "ChannelDisableThreshold": (0.0, 86400.0, False),
}
RATIO_OPTIONS = ("ModelRatio", "CompletionRatio", "GroupRatio")


class OptionValueError(ValueError):
    """A value the option cannot take (the message says why)."""


def known_keys() -> frozenset[str]:
    return frozenset(default_options())


def _go_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, no exponent."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text.removesuffix(".0")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    raise OptionValueError("the value must be a string, a number or a boolean")


def _int_value(key: str, value: Any) -> str:
    low, high = INT_OPTIONS[key]
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise OptionValueError(f"{key} must be a whole number")
    if not low <= number <= high:
        raise OptionValueError(f"{key} must be between {low} and {high}")
    return str(number)


def _float_value(key: str, value: Any) -> str:
    low, high, open_low = FLOAT_OPTIONS[key]
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise OptionValueError(f"{key} must be a number")
    if number < low or (open_low and number == low) or number > high:
        bound = f"greater than {low:g}" if open_low else f"at least {low:g}"
        raise OptionValueError(f"{key} must be {bound} and at most {high:g}")
    return _go_float(number)


def _ratio_value(key: str, value: Any) -> str:
    if isinstance(value, dict):
        value = orjson.dumps(value).decode()
    if not isinstance(value, str):
        raise OptionValueError(f"{key} must be a JSON object as a string")
    try:
        table = parse_ratio_json(value)
    except ValueError as exc:
        raise OptionValueError(f"{key}: {exc}") from None
    negative = next((name for name, ratio in table.items() if ratio < 0), None)
    if negative is not None:
        raise OptionValueError(f"{key}: the ratio of {negative!r} must not be negative",
                              "value")
    return value


def normalise(key: str, value: Any) -> str:
    """The string to store for `key`; OptionValueError if it cannot take `value`."""
    if isinstance(value, str) and len(value) > VALUE_MAX:
        raise OptionValueError(f"{key}: at most {VALUE_MAX} characters")
    if key not in known_keys():
        raise OptionValueError(f"unknown option: {key}")
    if key.endswith("Enabled"):
        text = _as_text(value)
        if text not in ("true", "false"):
            raise OptionValueError(f"{key} must be true or false")
        return text
    if key in INT_OPTIONS:
        return _int_value(key, value)
    if key in FLOAT_OPTIONS:
        return _float_value(key, value)
    if key in RATIO_OPTIONS:
        return _ratio_value(key, value)
    text = _as_text(value)
    if key == "Theme" and text not in THEMES:
        raise OptionValueError(INVALID_THEME)
    return text


class OptionUpdate(Schema):
    class Meta:
        unknown = EXCLUDE

    key = fields.String(required=True, validate=Length(1, 191),
                        metadata={"description": "Option name (spec 8)."})
    value = fields.Raw(required=True, allow_none=True,
                       metadata={"description": "The new value: a string (numbers and "
                                                "booleans are converted)."})
