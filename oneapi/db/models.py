"""Tables of the reference (spec section 2), same names, columns and indexes.

An existing one-api database can therefore be adopted in place (see
``oneapi.db.migrate``). Index names follow GORM's ``idx_<table>_<column>``
convention so adoption recognises the ones that already exist. Two metadata
objects: ``logs`` may live in a separate database (``LOG_SQL_DSN``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import TextClause

# GORM makes indexed or defaulted strings varchar(191) on MySQL; other strings are text.
Str = String(191)
# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are bigint like GORM's.
PK = BigInteger().with_variant(Integer(), "sqlite")


def _zero() -> TextClause:
    return text("0")


class MainBase(DeclarativeBase):
    metadata = MetaData()


class LogBase(DeclarativeBase):
    metadata = MetaData()


class User(MainBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(Str, nullable=False)
    password: Mapped[str] = mapped_column(Text, nullable=False)
    display_name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    role: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default=text("1"))
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                        server_default=text("1"))
    email: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    github_id: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    wechat_id: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    lark_id: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    oidc_id: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    # NULL rather than "" when unset: the column is uniquely indexed.
    access_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                       server_default=_zero())
    used_quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    request_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default=_zero())
    group: Mapped[str] = mapped_column(String(32), nullable=False, default="default",
                                       server_default="default")
    aff_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    inviter_id: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                            server_default=_zero())

    __table_args__ = (
        Index("idx_users_username", "username", unique=True),
        Index("idx_users_display_name", "display_name"),
        Index("idx_users_email", "email"),
        Index("idx_users_github_id", "github_id"),
        Index("idx_users_wechat_id", "wechat_id"),
        Index("idx_users_lark_id", "lark_id"),
        Index("idx_users_oidc_id", "oidc_id"),
        Index("idx_users_access_token", "access_token", unique=True),
        Index("idx_users_aff_code", "aff_code", unique=True),
        Index("idx_users_inviter_id", "inviter_id"),
    )


class Token(MainBase):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    key: Mapped[str] = mapped_column(String(48), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                        server_default=text("1"))
    name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default=_zero())
    accessed_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                               server_default=_zero())
    expired_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=-1,
                                              server_default=text("-1"))
    remain_quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default=_zero())
    unlimited_quota: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                  server_default=false())
    used_quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    models: Mapped[str | None] = mapped_column(Text, nullable=True)
    subnet: Mapped[str | None] = mapped_column(Str, nullable=True, default="", server_default="")

    __table_args__ = (
        Index("idx_tokens_key", "key", unique=True),
        Index("idx_tokens_name", "name"),
        # Not in the reference: every token page filters by owner.
        Index("idx_tokens_user_id", "user_id"),
    )


class Channel(MainBase):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    type: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=_zero())
    key: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                        server_default=text("1"))
    name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    weight: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=0,
                                               server_default=_zero())
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default=_zero())
    test_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                           server_default=_zero())
    response_time: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default=_zero())
    base_url: Mapped[str | None] = mapped_column(Str, nullable=True, default="",
                                                 server_default="")
    other: Mapped[str | None] = mapped_column(Text, nullable=True)
    balance: Mapped[float] = mapped_column(Double, nullable=False, default=0.0,
                                           server_default=_zero())
    balance_updated_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                                      server_default=_zero())
    models: Mapped[str] = mapped_column(Text, nullable=False, default="")
    group: Mapped[str] = mapped_column(String(32), nullable=False, default="default",
                                       server_default="default")
    used_quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    model_mapping: Mapped[str | None] = mapped_column(String(1024), nullable=True, default="",
                                                      server_default="")
    priority: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=0,
                                                 server_default=_zero())
    config: Mapped[str] = mapped_column(Text, nullable=False, default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("idx_channels_name", "name"),)


class Ability(MainBase):
    __tablename__ = "abilities"

    group: Mapped[str] = mapped_column(String(32), primary_key=True, autoincrement=False)
    model: Mapped[str] = mapped_column(Str, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                          server_default=true())
    priority: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=0,
                                                 server_default=_zero())

    __table_args__ = (
        Index("idx_abilities_channel_id", "channel_id"),
        Index("idx_abilities_priority", "priority"),
    )


class Redemption(MainBase):
    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                         server_default=_zero())
    key: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[int] = mapped_column(Integer, nullable=False, default=1,
                                        server_default=text("1"))
    name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=100,
                                       server_default=text("100"))
    created_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default=_zero())
    redeemed_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                               server_default=_zero())

    __table_args__ = (
        Index("idx_redemptions_key", "key", unique=True),
        Index("idx_redemptions_name", "name"),
    )


class Option(MainBase):
    __tablename__ = "options"

    key: Mapped[str] = mapped_column(Str, primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Log(LogBase):
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                         server_default=_zero())
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    type: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=_zero())
    content: Mapped[str] = mapped_column(Text, nullable=False, default="")
    username: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    token_name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    model_name: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    quota: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                       server_default=_zero())
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                               server_default=_zero())
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                                   server_default=_zero())
    channel_id: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    request_id: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    elapsed_time: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                              server_default=_zero())
    is_stream: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                            server_default=false())
    system_prompt_reset: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                      server_default=false())

    __table_args__ = (
        Index("idx_logs_user_id", "user_id"),
        Index("idx_created_at_type", "created_at", "type"),
        Index("index_username_model_name", "model_name", "username"),
        Index("idx_logs_token_name", "token_name"),
        Index("idx_logs_model_name", "model_name"),
        Index("idx_logs_channel_id", "channel_id"),
    )


class VerificationCode(MainBase):
    """Not in the reference (it keeps codes in process memory): email codes and
    password-reset tokens, stored so that any node can check them (migration 0002).

    ``code_hash`` is the SHA-256 of the code, never the code itself; one live code
    per (purpose, key); ``attempts`` counts wrong guesses.
    """

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    key: Mapped[str] = mapped_column(Str, nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                          server_default=_zero())

    __table_args__ = (
        Index("idx_verification_codes_purpose_key", "purpose", "key", unique=True),
        Index("idx_verification_codes_expires_at", "expires_at"),
    )


class JobLease(MainBase):
    """Not in the reference: who runs a scheduled job of the masters, and until
    when (migration 0003; see ``oneapi.tasks.scheduler``).

    ``expires_at`` is in milliseconds since the epoch: while a node runs the job
    it keeps pushing it forward; afterwards it marks when the next run is due.
    """

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(Str, nullable=False, default="", server_default="")
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())


class AppliedBatch(MainBase):
    """Not in the reference: one row per accounting batch committed while the Redis
    journal is on, written in the batch's own transaction, so that a journal replayed
    after a crash skips what was already applied (migration 0004).

    ``batch_id`` is ``<node id>:<sequence number of its first operation>``, ``last_seq``
    the sequence number of its last one.
    """

    __tablename__ = "applied_batches"

    batch_id: Mapped[str] = mapped_column(Str, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                          server_default=_zero())
    applied_at: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0,
                                            server_default=_zero())

    __table_args__ = (Index("idx_applied_batches_applied_at", "applied_at"),)
