"""Baseline of the log database: the reference's logs table, created or adopted.

Revision ID: logs_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from oneapi.db.adopt import create_or_adopt

revision = "logs_0001"
down_revision = None
branch_labels = None
depends_on = None

S = sa.String(191)


def _num(name: str, type_: type = sa.BigInteger) -> sa.Column[int]:
    return sa.Column(name, type_, nullable=False, default=0, server_default=sa.text("0"))


def _str(name: str) -> sa.Column[str]:
    return sa.Column(name, S, nullable=False, default="", server_default="")


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean, nullable=False, default=False, server_default=sa.false())


def tables(meta: sa.MetaData) -> list[sa.Table]:
    logs = sa.Table(
        "logs", meta,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        _num("user_id"), _num("created_at"), _num("type", sa.Integer),
        sa.Column("content", sa.Text, nullable=False, default=""),
        _str("username"), _str("token_name"), _str("model_name"),
        _num("quota"), _num("prompt_tokens", sa.Integer), _num("completion_tokens", sa.Integer),
        _num("channel_id"), _str("request_id"), _num("elapsed_time"),
        _flag("is_stream"), _flag("system_prompt_reset"),
        sa.Index("idx_logs_user_id", "user_id"),
        sa.Index("idx_created_at_type", "created_at", "type"),
        sa.Index("index_username_model_name", "model_name", "username"),
        sa.Index("idx_logs_token_name", "token_name"),
        sa.Index("idx_logs_model_name", "model_name"),
        sa.Index("idx_logs_channel_id", "channel_id"),
    )
    return [logs]


def upgrade() -> None:
    for table in tables(sa.MetaData()):
        create_or_adopt(op, table)


def downgrade() -> None:
    raise NotImplementedError("the baseline cannot be downgraded")
