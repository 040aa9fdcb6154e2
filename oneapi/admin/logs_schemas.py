"""Schemas of the /api/log routes (spec 1.5.6, 2.6).

Filters left out (or 0 / "") do not filter; time bounds are inclusive unix seconds.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from oneapi.admin.tokens_schemas import PAGE_MAX, PAGE_SIZE, PAGE_SIZE_MAX, TIMESTAMP_MAX

INT32_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
TEXT_MAX = 191


def _text(description: str) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=TEXT_MAX),
                         metadata={"description": description})


def _timestamp(description: str) -> fields.Integer:
    return fields.Integer(load_default=0, validate=validate.Range(min=0, max=TIMESTAMP_MAX),
                          metadata={"description": description})


class _Common(Schema):
    type = fields.Integer(load_default=0, validate=validate.Range(min=0, max=INT32_MAX),
                          metadata={"description": "0 all, 1 top-up, 2 consume, 3 manage, "
                                                   "4 system, 5 test."})
    start_timestamp = _timestamp("Only logs created at or after this unix time.")
    end_timestamp = _timestamp("Only logs created at or before this unix time.")
    token_name = _text("Exact token name.")
    model_name = _text("Exact model name.")


class _Paged(_Common):
    p = fields.Integer(load_default=0, validate=validate.Range(min=0, max=PAGE_MAX),
                       metadata={"description": "0-based page index."})
    size = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(min=1,
                                                                          max=PAGE_SIZE_MAX),
                          metadata={"description": f"Page size, default {PAGE_SIZE}."})


def _channel() -> fields.Integer:
    return fields.Integer(load_default=0, validate=validate.Range(min=0, max=BIGINT_MAX),
                          metadata={"description": "Channel id."})


class LogQuery(_Paged):
    username = _text("Exact username.")
    channel = _channel()


class SelfLogQuery(_Paged):
    pass


class LogStatQuery(_Common):
    """`type` is accepted but, as in the reference, the sum is always of consume logs."""

    username = _text("Exact username.")
    channel = _channel()


class SelfLogStatQuery(_Common):
    channel = _channel()


class LogDeleteQuery(Schema):
    target_timestamp = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=TIMESTAMP_MAX),
        metadata={"description": "Delete the logs created before this unix time (required)."})


class LogSearchQuery(Schema):
    keyword = fields.String(load_default="", validate=validate.Length(max=TEXT_MAX), metadata={
        "description": "A log type, or (all logs only) the start of the content."})


class LogOut(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    created_at = fields.Integer()
    type = fields.Integer()
    content = fields.String()
    username = fields.String()
    token_name = fields.String()
    model_name = fields.String()
    quota = fields.Integer()
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()
    channel = fields.Integer(attribute="channel_id",
                             metadata={"description": "The channel id (column channel_id)."})
    request_id = fields.String()
    elapsed_time = fields.Integer(metadata={"description": "Milliseconds."})
    is_stream = fields.Boolean()
    system_prompt_reset = fields.Boolean()


class LogStatOut(Schema):
    quota = fields.Integer(metadata={"description": "Sum of the matching consume logs."})


LOGS_OUT = LogOut(many=True)
