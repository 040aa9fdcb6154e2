"""Baseline: the reference's main tables, created fresh or adopted in place.

This is a frozen snapshot of the schema at the baseline; later changes are new
revisions. ``tests/integration/test_migrations.py`` checks that the models
match the migrated schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from oneapi.db.adopt import create_or_adopt

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = sa.String(191)
PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ZERO = sa.text("0")
ONE = sa.text("1")


def _id() -> sa.Column[int]:
    return sa.Column("id", PK, primary_key=True, autoincrement=True)


def _num(name: str, type_: sa.types.TypeEngine[int] | type = sa.BigInteger, default: int = 0,
         nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, type_, nullable=nullable, default=default,
                     server_default=sa.text(str(default)))


def _str(name: str, type_: sa.types.TypeEngine[str] = S, default: str | None = "",
         nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, type_, nullable=nullable, default=default,
                     server_default=None if default is None else default)


def _flag(name: str, default: bool) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean, nullable=False, default=default,
                     server_default=sa.true() if default else sa.false())


def tables(meta: sa.MetaData) -> list[sa.Table]:
    users = sa.Table(
        "users", meta, _id(),
        sa.Column("username", S, nullable=False),
        sa.Column("password", sa.Text, nullable=False),
        _str("display_name"), _num("role", sa.Integer, 1), _num("status", sa.Integer, 1),
        _str("email"), _str("github_id"), _str("wechat_id"), _str("lark_id"), _str("oidc_id"),
        sa.Column("access_token", sa.String(32), nullable=True),
        _num("quota"), _num("used_quota"), _num("request_count", sa.Integer),
        _str("group", sa.String(32), "default"),
        sa.Column("aff_code", sa.String(32), nullable=True),
        _num("inviter_id", sa.Integer),
        sa.Index("idx_users_username", "username", unique=True),
        *(sa.Index(f"idx_users_{c}", c) for c in
          ("display_name", "email", "github_id", "wechat_id", "lark_id", "oidc_id")),
        sa.Index("idx_users_access_token", "access_token", unique=True),
        sa.Index("idx_users_aff_code", "aff_code", unique=True),
        sa.Index("idx_users_inviter_id", "inviter_id"),
    )
    tokens = sa.Table(
        "tokens", meta, _id(),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(48), nullable=False),
        _num("status", sa.Integer, 1), _str("name"),
        _num("created_time"), _num("accessed_time"), _num("expired_time", default=-1),
        _num("remain_quota"), _flag("unlimited_quota", False), _num("used_quota"),
        sa.Column("models", sa.Text, nullable=True),
        _str("subnet", nullable=True),
        sa.Index("idx_tokens_key", "key", unique=True),
        sa.Index("idx_tokens_name", "name"),
        sa.Index("idx_tokens_user_id", "user_id"),
    )
    channels = sa.Table(
        "channels", meta, _id(),
        _num("type", sa.Integer),
        sa.Column("key", sa.Text, nullable=False),
        _num("status", sa.Integer, 1), _str("name"),
        _num("weight", nullable=True),
        _num("created_time"), _num("test_time"), _num("response_time", sa.Integer),
        _str("base_url", nullable=True),
        sa.Column("other", sa.Text, nullable=True),
        sa.Column("balance", sa.Double, nullable=False, default=0.0, server_default=ZERO),
        _num("balance_updated_time"),
        sa.Column("models", sa.Text, nullable=False, default=""),
        _str("group", sa.String(32), "default"),
        _num("used_quota"),
        _str("model_mapping", sa.String(1024), nullable=True),
        _num("priority", nullable=True),
        sa.Column("config", sa.Text, nullable=False, default=""),
        sa.Column("system_prompt", sa.Text, nullable=True),
        sa.Index("idx_channels_name", "name"),
    )
    abilities = sa.Table(
        "abilities", meta,
        sa.Column("group", sa.String(32), primary_key=True, autoincrement=False),
        sa.Column("model", S, primary_key=True, autoincrement=False),
        sa.Column("channel_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _flag("enabled", True),
        _num("priority", nullable=True),
        sa.Index("idx_abilities_channel_id", "channel_id"),
        sa.Index("idx_abilities_priority", "priority"),
    )
    redemptions = sa.Table(
        "redemptions", meta, _id(),
        _num("user_id"),
        sa.Column("key", sa.String(32), nullable=False),
        _num("status", sa.Integer, 1), _str("name"), _num("quota", default=100),
        _num("created_time"), _num("redeemed_time"),
        sa.Index("idx_redemptions_key", "key", unique=True),
        sa.Index("idx_redemptions_name", "name"),
    )
    options = sa.Table(
        "options", meta,
        sa.Column("key", S, primary_key=True),
        sa.Column("value", sa.Text, nullable=False, default=""),
    )
    return [users, tokens, channels, abilities, redemptions, options]


def upgrade() -> None:
    for table in tables(sa.MetaData()):
        create_or_adopt(op, table)


def downgrade() -> None:
    # Dropping an operator's users and channels is never what a downgrade should do.
    raise NotImplementedError("the baseline cannot be downgraded")
