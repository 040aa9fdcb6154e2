"""Schemas of the /api/token routes (spec 1.5.3, 2.2), and the paging/response
helpers shared by the token, redemption and log routes.

Body integers are strict (no "12", no 12.5, no booleans), as the reference's
JSON binding into int fields. A field left out of an update keeps its value;
a field given is written, 0 and "" included.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from oneapi.admin.api import ENVELOPE_REF

PAGE_SIZE = 10  # the reference's ItemsPerPage
PAGE_SIZE_MAX = 100
SEARCH_LIMIT = 100  # the reference's MaxRecentItems
PAGE_MAX = 10**7
# Well inside a signed 64-bit column, with room for the relay's refunds.
QUOTA_MAX = 10**18
TIMESTAMP_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z
ID_MAX = 2**63 - 1  # ids are signed 64-bit
TOKEN_NAME_MAX_BYTES = 30
SUBNET_MAX = 191  # the column is varchar(191)
MODELS_MAX = 65_535  # a MySQL TEXT column

TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4


def strict_int(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, **kwargs)


def json_bool(**kwargs: Any) -> fields.Boolean:
    """true/false only (marshmallow would also take "yes", "on", "1"...)."""
    return fields.Boolean(truthy={True}, falsy={False}, **kwargs)


class Body(Schema):
    """A request body: fields it does not declare are ignored (and documented so)."""

    class Meta:
        unknown = EXCLUDE


class PageQuery(Schema):
    p = fields.Integer(load_default=0, validate=validate.Range(min=0, max=PAGE_MAX),
                       metadata={"description": "0-based page index."})
    size = fields.Integer(load_default=PAGE_SIZE,
                          validate=validate.Range(min=1, max=PAGE_SIZE_MAX),
                          metadata={"description": "Page size (the reference's is always "
                                                   f"{PAGE_SIZE})."})


class SearchPageQuery(Schema):
    """The reference's searches return every match; these return one page of up
    to 100 (the first, newest first, unless `p` says otherwise)."""

    keyword = fields.String(load_default="", validate=validate.Length(max=191))
    p = fields.Integer(load_default=0, validate=validate.Range(min=0, max=PAGE_MAX),
                       metadata={"description": "0-based page index."})
    size = fields.Integer(load_default=SEARCH_LIMIT,
                          validate=validate.Range(min=1, max=PAGE_SIZE_MAX),
                          metadata={"description": f"Page size, default {SEARCH_LIMIT}."})


def data_response(item: type[Schema] | dict[str, Any], *, many: bool = False) -> dict[str, Any]:
    """An OpenAPI response schema: the envelope whose `data` is `item` (or a list of it)."""
    data: Any = {"type": "array", "items": item} if many else item
    return {"allOf": [ENVELOPE_REF, {"type": "object", "properties": {"data": data}}]}


# --- validators -----------------------------------------------------------------------

def _name_length(name: str) -> None:
    if len(name.encode()) > TOKEN_NAME_MAX_BYTES:
        raise ValidationError("令牌名称过长")


def _expired_time(value: int) -> None:
    if value != -1 and not 0 <= value <= TIMESTAMP_MAX:
        raise ValidationError("must be -1 (never expires) or a unix time in seconds")


def normalize_subnets(raw: str) -> str:
    """Comma-separated CIDRs, each checked like Go's net.ParseCIDR; "" = any address."""
    if not raw.strip():
        return ""
    parts = [part.strip() for part in raw.split(",")]
    for part in parts:
        if "/" not in part:
            raise ValidationError(f"无效的网段：invalid CIDR address: {part}")
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValidationError(f"无效的网段：invalid CIDR address: {part}") from None
    joined = ",".join(parts)
    if len(joined) > SUBNET_MAX:
        raise ValidationError(f"无效的网段：longer than {SUBNET_MAX} characters")
    return joined


def _subnets(raw: str) -> None:
    normalize_subnets(raw)


def normalize_models(raw: str) -> str:
    """Trim the names of a comma list and drop empty ones (the relay matches exactly)."""
    return ",".join(name for name in (part.strip() for part in raw.split(",")) if name)


# --- requests -------------------------------------------------------------------------

class TokenListQuery(PageQuery):
    order = fields.String(load_default="", validate=validate.Length(max=32), metadata={
        "description": "`remain_quota`: unlimited first, then remaining quota descending; "
                       "`used_quota`: used quota descending; anything else: id descending."})


class _TokenFields(Body):
    name = fields.String(validate=_name_length,
                         metadata={"description": f"At most {TOKEN_NAME_MAX_BYTES} bytes."})
    expired_time = strict_int(validate=_expired_time,
                              metadata={"description": "-1 = never; else unix seconds."})
    remain_quota = strict_int(validate=validate.Range(min=0, max=QUOTA_MAX))
    unlimited_quota = json_bool()
    models = fields.String(allow_none=True, validate=validate.Length(max=MODELS_MAX),
                           metadata={"description": "Comma-separated allowed models; "
                                                    "empty = all."})
    subnet = fields.String(allow_none=True, validate=_subnets, metadata={
        "description": "Comma-separated CIDRs the client IP must be in; empty = any."})

    @post_load
    def normalize(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "models" in data:
            data["models"] = normalize_models(data["models"] or "")
        if "subnet" in data:
            data["subnet"] = normalize_subnets(data["subnet"] or "")
        return data


class TokenCreate(_TokenFields):
    name = fields.String(load_default="", validate=_name_length,
                         metadata={"description": f"At most {TOKEN_NAME_MAX_BYTES} bytes."})
    expired_time = strict_int(load_default=-1, validate=_expired_time,
                              metadata={"description": "-1 = never; else unix seconds."})
    remain_quota = strict_int(load_default=0, validate=validate.Range(min=0, max=QUOTA_MAX))
    unlimited_quota = json_bool(load_default=False)
    models = fields.String(load_default="", allow_none=True,
                           validate=validate.Length(max=MODELS_MAX),
                           metadata={"description": "Comma-separated allowed models; "
                                                    "empty = all."})
    subnet = fields.String(load_default="", allow_none=True, validate=_subnets, metadata={
        "description": "Comma-separated CIDRs the client IP must be in; empty = any."})


class TokenUpdate(_TokenFields):
    """Full update: every field given is written (0 and "" too); with
    `?status_only=1` only `id` and `status` are read."""

    id = strict_int(required=True, validate=validate.Range(min=1, max=ID_MAX))
    status = strict_int(validate=validate.OneOf(
        [TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED]), metadata={
        "description": "1 enabled, 2 disabled (3 expired, 4 exhausted). Enabling a token "
                       "that is expired or has no quota left is refused."})


class TokenUpdateQuery(Schema):
    status_only = fields.String(load_default="", validate=validate.Length(max=16), metadata={
        "description": "Any non-empty value: change only `status`."})


# --- responses ------------------------------------------------------------------------

class TokenOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    key = fields.String(metadata={"description": "48 characters, without the `sk-` prefix."})
    status = fields.Integer()
    name = fields.String()
    created_time = fields.Integer()
    accessed_time = fields.Integer()
    expired_time = fields.Integer()
    remain_quota = fields.Integer()
    unlimited_quota = fields.Boolean()
    used_quota = fields.Integer()
    models = fields.String(allow_none=True)
    subnet = fields.String(allow_none=True)


TOKEN_OUT = TokenOut()
TOKENS_OUT = TokenOut(many=True)
