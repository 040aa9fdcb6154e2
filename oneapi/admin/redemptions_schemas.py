"""Schemas of the /api/redemption routes (spec 1.5.5, 2.5, 7.8)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from oneapi.admin.tokens_schemas import ID_MAX, Body, strict_int

NAME_MAX = 20
COUNT_MAX = 100
# One code is worth at most this much: 10**15 is $2 billion at the default
# QuotaPerUnit, and thousands of such codes still fit a user's 64-bit quota.
REDEMPTION_QUOTA_MAX = 10**15

REDEMPTION_ENABLED, REDEMPTION_DISABLED, REDEMPTION_USED = 1, 2, 3

NAME_LENGTH = "兑换码名称长度必须在1-20之间"

_name = validate.Length(min=1, max=NAME_MAX, error=NAME_LENGTH)
_quota = validate.Range(min=1, max=REDEMPTION_QUOTA_MAX,
                        error=f"must be between 1 and {REDEMPTION_QUOTA_MAX}")


def _count(value: int) -> None:
    if value <= 0:
        raise ValidationError("兑换码个数必须大于0")
    if value > COUNT_MAX:
        raise ValidationError(f"一次兑换码批量生成的个数不能大于 {COUNT_MAX}")


class RedemptionCreate(Body):
    name = fields.String(required=True, validate=_name,
                         metadata={"description": f"1-{NAME_MAX} characters."})
    quota = strict_int(required=True, validate=_quota,
                       metadata={"description": "Quota each code grants."})
    count = strict_int(required=True, validate=_count,
                       metadata={"description": f"How many codes to create, 1-{COUNT_MAX}.",
                                 "minimum": 1, "maximum": COUNT_MAX})


class RedemptionUpdate(Body):
    """Full update writes the given `name` and `quota`; with `?status_only=1`
    only `status` is read. The status of a used code cannot change."""

    id = strict_int(required=True, validate=validate.Range(min=1, max=ID_MAX))
    name = fields.String(validate=_name)
    quota = strict_int(validate=_quota)
    status = strict_int(validate=validate.OneOf([REDEMPTION_ENABLED, REDEMPTION_DISABLED]),
                        metadata={"description": "1 enabled, 2 disabled."})


class RedemptionUpdateQuery(Schema):
    status_only = fields.String(load_default="", validate=validate.Length(max=16), metadata={
        "description": "Any non-empty value: change only `status`."})


class RedemptionOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer(metadata={"description": "The admin who created the code."})
    key = fields.String(metadata={"description": "32 hex characters."})
    status = fields.Integer(metadata={"description": "1 enabled, 2 disabled, 3 used."})
    name = fields.String()
    quota = fields.Integer()
    created_time = fields.Integer()
    redeemed_time = fields.Integer()
    count = fields.Constant(0, metadata={"description": "Always 0 (request-only field)."})


REDEMPTION_OUT = RedemptionOut()
REDEMPTIONS_OUT = RedemptionOut(many=True)
