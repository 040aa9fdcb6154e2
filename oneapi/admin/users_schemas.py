"""Request schemas of the /api/user routes and /api/topup (spec 1.5.2, 7).

Limits are the reference's struct validation: username <= 12, password 8-20,
display name <= 20, email <= 50 characters. Integers are strict (no "12", no
12.0, no booleans); quotas are bounded so that a sum can never overflow the
64-bit columns.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from oneapi.admin.auth import (
    ROLE_ADMIN,
    ROLE_COMMON,
    ROLE_ROOT,
    USER_DELETED,
    USER_DISABLED,
    USER_ENABLED,
)

USERNAME_MAX = 12
PASSWORD_MIN, PASSWORD_MAX = 8, 20
DISPLAY_NAME_MAX = 20
EMAIL_MAX = 50
GROUP_MAX = 32
# A quota above this is a typo: 10**18 leaves room in a signed 64-bit column
# for several such amounts to be added before anything could overflow.
QUOTA_MAX = 10**18
PAGE_SIZE_MAX = 100

_username = validate.Length(min=1, max=USERNAME_MAX)
_password = validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX)
_display_name = validate.Length(max=DISPLAY_NAME_MAX)
_email = validate.Length(max=EMAIL_MAX)


class Input(Schema):
    """Refuses NUL characters anywhere (PostgreSQL cannot store them in text)."""

    @pre_load
    def _no_nul(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, str) and "\x00" in value:
                    raise ValidationError("must not contain NUL characters", str(name))
        return data


def _optional_password(value: str) -> None:
    """Empty (keep the old password) or 8-20 characters."""
    if value and not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise ValidationError(f"Length must be between {PASSWORD_MIN} and {PASSWORD_MAX}.")


class RegisterBody(Input):
    username = fields.String(required=True, validate=_username)
    password = fields.String(required=True, validate=_password)
    display_name = fields.String(load_default="", validate=_display_name)
    email = fields.String(load_default="", validate=_email)
    verification_code = fields.String(load_default="", validate=validate.Length(max=64))
    aff_code = fields.String(load_default="", validate=validate.Length(max=32),
                             metadata={"description": "The inviter's invite code."})


class RegisterQuery(Input):
    turnstile = fields.String(load_default="", metadata={
        "description": "Turnstile token, when TurnstileCheckEnabled."})


class LoginBody(Input):
    username = fields.String(load_default="", validate=validate.Length(max=EMAIL_MAX),
                             metadata={"description": "Username, or the account's email."})
    password = fields.String(load_default="", validate=validate.Length(max=128))


class UpdateSelfBody(Input):
    """Empty strings leave a field unchanged (the reference's behaviour)."""

    username = fields.String(load_default="", validate=validate.Length(max=USERNAME_MAX))
    display_name = fields.String(load_default="", validate=_display_name)
    password = fields.String(load_default="", validate=_optional_password,
                             metadata={"description": f"{PASSWORD_MIN}-{PASSWORD_MAX} "
                                                      "characters; empty keeps the old one."})


class TopUpBody(Input):
    key = fields.String(load_default="", validate=validate.Length(max=64),
                        metadata={"description": "A redemption code."})


class PageQuery(Input):
    p = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10**7),
             metadata={"description": "0-based page index."})
    size = fields.Integer(load_default=10, validate=validate.Range(min=1, max=PAGE_SIZE_MAX),
                metadata={"description": "Page size (the reference's is always 10)."})


class UserListQuery(PageQuery):
    order = fields.String(load_default="", validate=validate.OneOf(
        ["", "id", "quota", "used_quota", "request_count"]),
        metadata={"description": "Sort (descending) by quota, used_quota or "
                                 "request_count; default id."})


class DashboardQuery(Input):
    days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=30), metadata={
        "description": "How many UTC days back, today included (the reference: always 7)."})


class SearchQuery(Input):
    keyword = fields.String(load_default="", validate=validate.Length(max=191))


class CreateUserBody(Input):
    username = fields.String(required=True, validate=_username)
    password = fields.String(required=True, validate=_password)
    display_name = fields.String(load_default="", validate=_display_name)
    role = fields.Integer(strict=True, load_default=ROLE_COMMON,
                          validate=validate.Range(min=0, max=ROLE_ROOT),
                metadata={"description": "Must be below the caller's role; the new user "
                                         "is always a common user (as the reference)."})


class UpdateUserBody(Input):
    """Admin update: every field given is written - including 0 and "" - except
    an empty password, which keeps the old one. Fields not listed (used_quota,
    request_count, aff_code, inviter_id, access_token...) are ignored."""

    id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    username = fields.String(validate=_username)
    display_name = fields.String(validate=_display_name)
    password = fields.String(validate=_optional_password,
                             metadata={"description": "Empty keeps the old password."})
    email = fields.String(validate=_email)
    group = fields.String(validate=validate.Length(min=1, max=GROUP_MAX))
    quota = fields.Integer(strict=True, validate=validate.Range(min=0, max=QUOTA_MAX))
    role = fields.Integer(strict=True,
                          validate=validate.OneOf([ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT]))
    status = fields.Integer(strict=True, validate=validate.OneOf(
        [USER_ENABLED, USER_DISABLED, USER_DELETED]))
    github_id = fields.String(validate=validate.Length(max=191))
    wechat_id = fields.String(validate=validate.Length(max=191))
    lark_id = fields.String(validate=validate.Length(max=191))
    oidc_id = fields.String(validate=validate.Length(max=191))


MANAGE_ACTIONS = ("disable", "enable", "delete", "promote", "demote")


class ManageBody(Input):
    username = fields.String(required=True, validate=validate.Length(min=1, max=191))
    action = fields.String(required=True, validate=validate.OneOf(MANAGE_ACTIONS))


class AdminTopUpBody(Input):
    user_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    quota = fields.Integer(strict=True, required=True,
                           validate=validate.Range(min=1, max=QUOTA_MAX))
    remark = fields.String(load_default="", validate=validate.Length(max=1000),
                           metadata={"description": "Log text; default "
                                                    "'通过 API 充值 <amount>'."})


# --- replies (documentation only) ------------------------------------------------------
class UserRecord(Schema):
    """A user as the API shows it: ``password``, ``access_token`` and
    ``verification_code`` are always empty strings."""

    id = fields.Integer()
    username = fields.String()
    password = fields.String()
    display_name = fields.String()
    role = fields.Integer()
    status = fields.Integer()
    email = fields.String()
    github_id = fields.String()
    wechat_id = fields.String()
    lark_id = fields.String()
    oidc_id = fields.String()
    verification_code = fields.String()
    access_token = fields.String()
    quota = fields.Integer()
    used_quota = fields.Integer()
    request_count = fields.Integer()
    group = fields.String()
    aff_code = fields.String()
    inviter_id = fields.Integer()


class DashboardRow(Schema):
    Day = fields.String(metadata={"description": "YYYY-MM-DD (UTC)."})
    ModelName = fields.String()
    RequestCount = fields.Integer()
    Quota = fields.Integer()
    PromptTokens = fields.Integer()
    CompletionTokens = fields.Integer()
