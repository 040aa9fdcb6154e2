"""Request schemas of the channel routes (spec 1.5.4, 2.3)."""

from __future__ import annotations

from typing import Any

import orjson
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load
from marshmallow.validate import Length, OneOf, Range

from oneapi.relay import catalog

# MySQL TEXT holds 65,535 bytes: 16,000 characters fit even at 4 bytes each.
TEXT_MAX = 16_000
NAME_MAX = 191  # varchar(191): names, base URLs, model names
GROUP_MAX = 32  # channels.group and abilities.group are varchar(32)
MAPPING_MAX = 1024  # channels.model_mapping is varchar(1024)
MAX_BATCH_KEYS = 1000
INT32_MAX = 2**31 - 1
CHANNEL_STATUSES = (1, 2, 3)
CHANNEL_TYPES = tuple(t.id for t in catalog.channel_types())


def _json_object(value: str | None, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(value) if value else {}
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object")
    return data


class ModelMapping(fields.String):
    """"" or a JSON object {requested model: upstream model}, stored compact so
    that a pretty-printed form (the web UI sends one) fits the 1024-character column."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if text == "":
            return text
        if len(text) > TEXT_MAX:
            raise ValidationError(f"model_mapping is longer than {TEXT_MAX} characters")
        mapping = _json_object(text, "model_mapping")
        for name, target in mapping.items():
            if not isinstance(target, str):
                raise ValidationError(f"model_mapping: the target of {name!r} must be a string")
        compact = orjson.dumps(mapping).decode()
        if len(compact) > MAPPING_MAX:
            raise ValidationError(f"model_mapping is longer than {MAPPING_MAX} characters")
        return compact


def validate_config(value: str | None) -> None:
    if value:
        _json_object(value, "config")


def validate_models(value: str | None) -> None:
    for model in (value or "").split(","):
        if len(model) > NAME_MAX:
            raise ValidationError(f"model name longer than {NAME_MAX} characters: "
                                  f"{model[:40]}...")


def key_problem(key: str) -> str | None:
    """Why `key` cannot be sent in an HTTP header, if it cannot."""
    if len(key) > TEXT_MAX:
        return f"a key is longer than {TEXT_MAX} characters"
    if any(not (" " <= ch <= "~" or ch == "\t") for ch in key):
        return "a key may hold only printable ASCII characters"
    return None


class Int(fields.Integer):
    """A JSON integer (no strings, floats or booleans)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


def _channel_fields(*, create: bool) -> dict[str, fields.Field[Any]]:
    """The writable channel fields; on create with the reference's defaults."""

    def d(value: Any) -> dict[str, Any]:
        return {"load_default": value} if create else {}

    return {
        "type": Int(validate=OneOf(CHANNEL_TYPES, error="unknown channel type"), **d(0),
                    metadata={"description": "Channel type id (spec 4.1)."}),
        "status": Int(validate=OneOf(CHANNEL_STATUSES), **d(1),
                      metadata={"description": "1 enabled, 2 manually, 3 automatically "
                                               "disabled."}),
        "name": fields.String(validate=Length(max=NAME_MAX), **d("")),
        "weight": Int(validate=Range(0, INT32_MAX), allow_none=True, **d(0)),
        "base_url": fields.String(validate=Length(max=NAME_MAX), allow_none=True, **d("")),
        "other": fields.String(validate=Length(max=TEXT_MAX), allow_none=True, **d(None)),
        "models": fields.String(validate=[Length(max=TEXT_MAX), validate_models], **d(""),
                                metadata={"description": "Comma-separated model names."}),
        "group": fields.String(validate=Length(max=GROUP_MAX), **d("default"),
                               metadata={"description": "Comma-separated groups."}),
        "model_mapping": ModelMapping(allow_none=True, **d(""),
                                      metadata={"description": "JSON object {requested "
                                                "model: upstream model}, at most 1024 "
                                                "characters once compacted."}),
        "priority": Int(validate=Range(-INT32_MAX, INT32_MAX), allow_none=True, **d(0)),
        "config": fields.String(validate=[Length(max=TEXT_MAX), validate_config], **d(""),
                                metadata={"description": "ChannelConfig JSON object."}),
        "system_prompt": fields.String(validate=Length(max=TEXT_MAX), allow_none=True,
                                       **d(None)),
    }


class ChannelCreate(Schema.from_dict(_channel_fields(create=True))):  # type: ignore[misc]
    """A new channel; `key` holds one key per line and makes one channel each."""

    class Meta:
        unknown = EXCLUDE  # other fields (the UI sends some) are ignored

    key = fields.String(required=True, validate=Length(max=MAX_BATCH_KEYS * 1024),
                        metadata={"description": "Upstream key(s), one per line."})

    @post_load
    def split_keys(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        keys = [line.strip() for line in data.pop("key").split("\n")]
        keys = [key for key in keys if key]
        if not keys:
            raise ValidationError("at least one non-empty key is required", "key")
        if len(keys) > MAX_BATCH_KEYS:
            raise ValidationError(f"at most {MAX_BATCH_KEYS} keys at once", "key")
        problem = next((p for p in map(key_problem, keys) if p), None)
        if problem:
            raise ValidationError(problem, "key")
        for name in ("weight", "priority"):
            if data.get(name) is None:
                data[name] = 0
        for name in ("base_url", "model_mapping"):
            if data.get(name) is None:
                data[name] = ""
        data["keys"] = keys
        return data


class ChannelUpdate(Schema.from_dict(_channel_fields(create=False))):  # type: ignore[misc]
    """Fields to change on channel `id`; absent or null fields are left alone, and
    an empty `key` keeps the stored one (GET never returns it)."""

    class Meta:
        unknown = EXCLUDE  # read-only columns the edit form sends back are ignored

    id = Int(required=True, validate=Range(1, 2**63 - 1))
    key = fields.String(validate=Length(max=TEXT_MAX),
                        metadata={"description": "A new key (empty: keep the current)."})

    @post_load
    def drop_unset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data = {name: value for name, value in data.items() if value is not None}
        key = data.pop("key", "").strip()
        if "\n" in key:
            raise ValidationError("a channel holds one key; create channels to add more",
                                  "key")
        if key:
            problem = key_problem(key)
            if problem:
                raise ValidationError(problem, "key")
            data["key"] = key
        return data


class PageQuery(Schema):
    p = fields.Integer(load_default=0, validate=Range(-10**9, 10**9),
                       metadata={"description": "0-based page."})
    size = fields.Integer(load_default=10, validate=Range(1, 100),
                          metadata={"description": "Page size (default 10)."})


class SearchQuery(Schema):
    keyword = fields.String(load_default="", validate=Length(max=NAME_MAX),
                            metadata={"description": "A channel id or a name prefix."})


class TestQuery(Schema):
    model = fields.String(load_default="", validate=Length(max=NAME_MAX),
                          metadata={"description": "Model to test (default: the "
                                                   "channel's first)."})


class TestAllQuery(Schema):
    scope = fields.String(load_default="all", validate=OneOf(("all", "disabled", "")),
                          metadata={"description": "all (default) or disabled."})


# Replies that are not the usual envelope (OpenAPI response schemas).
def _reply(**extra: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["success", "message"],
            "properties": {"success": {"type": "boolean"}, "message": {"type": "string"},
                           **extra}}


TEST_REPLY = _reply(time={"type": "number", "description": "Seconds."},
                    modelName={"type": "string"})
BALANCE_REPLY = _reply(balance={"type": "number"})
CATALOGUE_REPLY = {"type": "object", "required": ["object", "data"],
                   "properties": {"object": {"type": "string"},
                                  "data": {"type": "array", "items": {"type": "object"}}}}
