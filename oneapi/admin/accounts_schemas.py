"""Request schemas of the account routes: verification, reset, OAuth (spec 1.5.1)."""

from __future__ import annotations

from marshmallow import Schema, fields
from marshmallow.validate import Length

# The reference validates email <= 50 at registration; a code is mailed only for those.
REGISTER_EMAIL_MAX = 50
EMAIL_MAX = 191  # users.email is varchar(191)
CODE_MAX = 64
OAUTH_CODE_MAX = 1024
STATE_MAX = 64
TURNSTILE_MAX = 4096


class VerificationQuery(Schema):
    email = fields.Email(required=True, validate=Length(max=REGISTER_EMAIL_MAX),
                         metadata={"description": "Where to send the 6-character code."})
    turnstile = fields.String(load_default="", validate=Length(max=TURNSTILE_MAX),
                              metadata={"description": "Turnstile token, when the check is on."})


class ResetPasswordQuery(Schema):
    email = fields.Email(required=True, validate=Length(max=EMAIL_MAX),
                         metadata={"description": "A registered user's email."})
    turnstile = fields.String(load_default="", validate=Length(max=TURNSTILE_MAX),
                              metadata={"description": "Turnstile token, when the check is on."})


class ResetBody(Schema):
    email = fields.String(required=True, validate=Length(min=1, max=EMAIL_MAX))
    token = fields.String(required=True, validate=Length(min=1, max=CODE_MAX),
                          metadata={"description": "The token of the mailed reset link."})


class OAuthQuery(Schema):
    code = fields.String(load_default="", validate=Length(max=OAUTH_CODE_MAX),
                         metadata={"description": "The provider's authorization code."})
    state = fields.String(load_default="", validate=Length(max=STATE_MAX),
                          metadata={"description": "The value from GET /api/oauth/state."})


class WeChatQuery(Schema):
    code = fields.String(load_default="", validate=Length(max=OAUTH_CODE_MAX),
                         metadata={"description": "The code the WeChat official account gave."})


class EmailBindQuery(Schema):
    email = fields.Email(required=True, validate=Length(max=EMAIL_MAX))
    code = fields.String(required=True, validate=Length(min=1, max=CODE_MAX),
                         metadata={"description": "The code mailed by GET /api/verification."})
