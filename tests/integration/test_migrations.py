"""Schema migrations on SQLite, MySQL/MariaDB and PostgreSQL.

Covers: a fresh install, adoption of a database written by the reference (GORM
AutoMigrate) including an older version's missing columns, a separate log
database, two masters migrating at once, and slaves waiting for the schema.
"""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from oneapi.db import migrate
from oneapi.db.engine import Database
from oneapi.db.models import Ability, Channel, Log, LogBase, MainBase, Option, Token, User
from tests.dbs import fresh_database, kind_of, make_settings, open_database

REFERENCE_MAIN_TABLES = {"users", "tokens", "channels", "abilities", "redemptions", "options"}
# Tables of ours the reference does not have (later revisions).
MAIN_TABLES = REFERENCE_MAIN_TABLES | {"verification_codes", "job_leases", "applied_batches"}
LOG_TABLES = {"logs"}
VERSION_TABLES = {"alembic_version", "alembic_version_logs"}
HEADS = {tree: migrate.head_revision(tree) for tree in migrate.TREES}

# A bound on anything that could otherwise hang on a lock.
HANG = 60.0


# --- helpers ----------------------------------------------------------------------------------


async def upgrade(db: Database, **kwargs: Any) -> None:
    await asyncio.wait_for(
        migrate.upgrade((db.engine, db.main_url), (db.log_engine, db.logs_url), **kwargs),
        HANG,
    )


async def inspect(engine: AsyncEngine, fn: Callable[[sa.Inspector], Any]) -> Any:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: fn(sa.inspect(c)))


async def table_names(engine: AsyncEngine) -> set[str]:
    return set(await inspect(engine, lambda i: i.get_table_names()))


async def version_rows(engine: AsyncEngine, table: str) -> list[str]:
    async with engine.connect() as conn:
        return [r[0] for r in await conn.execute(text(f"SELECT version_num FROM {table}"))]


async def revisions(db: Database) -> dict[str, list[str]]:
    return {
        "main": await version_rows(db.engine, "alembic_version"),
        "logs": await version_rows(db.log_engine, "alembic_version_logs"),
    }


AT_HEAD = {"main": [HEADS["main"]], "logs": [HEADS["logs"]]}


def _schema(insp: sa.Inspector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                              for c in insp.get_columns(table)),
            "indexes": sorted((ix["name"] or "", tuple(ix["column_names"]), bool(ix["unique"]))
                              for ix in insp.get_indexes(table)),
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
        }
    return out


async def schema(engine: AsyncEngine) -> dict[str, Any]:
    return await inspect(engine, _schema)


def _model_diff(conn: Connection, metadata: sa.MetaData) -> list[Any]:
    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return name in metadata.tables
        return True

    ctx = MigrationContext.configure(conn, opts={
        "compare_type": False,
        "compare_server_default": False,
        "include_name": include_name,
    })
    return list(compare_metadata(ctx, metadata))


async def model_diff(engine: AsyncEngine, metadata: sa.MetaData) -> list[Any]:
    async with engine.connect() as conn:
        return await conn.run_sync(_model_diff, metadata)


@pytest.fixture
def count_migrations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every Alembic upgrade actually run (tree names)."""
    calls: list[str] = []
    original = migrate._upgrade_sync

    def counting(connection: Connection, tree: str) -> None:
        calls.append(tree)
        original(connection, tree)

    monkeypatch.setattr(migrate, "_upgrade_sync", counting)
    return calls


# --- a. fresh database ------------------------------------------------------------------------


async def test_migrate_empty_database(db_dsn: str, count_migrations: list[str]) -> None:
    async with open_database(make_settings(db_dsn)) as db:
        assert db.log_engine is db.engine
        assert await table_names(db.engine) == set()
        async with db.engine.connect() as conn:
            assert await migrate.current_revision(conn, "main") is None

        await upgrade(db)

        assert await table_names(db.engine) == MAIN_TABLES | LOG_TABLES | VERSION_TABLES
        assert await revisions(db) == AT_HEAD
        async with db.engine.connect() as conn:
            assert await migrate.current_revision(conn, "main") == HEADS["main"]
            assert await migrate.current_revision(conn, "logs") == HEADS["logs"]
        assert sorted(count_migrations) == ["logs", "main"]

        # The migrated schema is what the ORM models describe.
        assert await model_diff(db.engine, MainBase.metadata) == []
        assert await model_diff(db.log_engine, LogBase.metadata) == []

        # A second upgrade finds nothing to do and changes nothing.
        before = await schema(db.engine)
        count_migrations.clear()
        await upgrade(db)
        assert count_migrations == []
        assert await schema(db.engine) == before
        assert await revisions(db) == AT_HEAD


async def test_fresh_schema_works_with_the_models(db_dsn: str) -> None:
    async with open_database(make_settings(db_dsn)) as db:
        await upgrade(db)
        async with db.session() as s:
            user = User(username="root", password="x")
            s.add(user)
            s.add(Channel(key="sk-1", models="gpt-4", name="c"))
            s.add(Option(key="Notice", value="hi"))
            await s.commit()
            assert user.id == 1
        async with db.session() as s:
            got = await s.get(User, 1)
            assert got is not None
            assert (got.group, got.quota, got.role, got.status, got.lark_id) == (
                "default", 0, 1, 1, "")
            ch = (await s.execute(sa.select(Channel))).scalar_one()
            assert (ch.priority, ch.weight, ch.group, ch.config, ch.status) == (
                0, 0, "default", "", 1)
            s.add(User(username="root", password="y"))
            with pytest.raises(IntegrityError):
                await s.commit()


async def test_then_callback_runs_inside_upgrade(db_dsn: str) -> None:
    seen: list[str | None] = []

    async def bootstrap(conn: AsyncConnection) -> None:
        seen.append(await migrate.current_revision(conn, "main"))
        await conn.execute(sa.insert(Option.__table__).values(key="Bootstrapped", value="yes"))

    async with open_database(make_settings(db_dsn)) as db:
        await upgrade(db, then=bootstrap)
        assert seen == [HEADS["main"]]
        async with db.engine.connect() as conn:
            value = (await conn.execute(
                sa.select(Option.__table__.c.value).where(Option.__table__.c.key == "Bootstrapped")
            )).scalar_one()
        assert value == "yes"


# --- b. adopting a reference (GORM) database ----------------------------------------------------

# Column types GORM AutoMigrate produces for the reference's Go fields, per dialect.
GORM_TYPES: dict[str, dict[str, str]] = {
    #         Go field                       mysql / postgresql / sqlite
    "pk": {"mysql": "bigint AUTO_INCREMENT", "postgresql": "bigserial",
           "sqlite": "integer PRIMARY KEY AUTOINCREMENT"},
    "int": {"mysql": "bigint", "postgresql": "bigint", "sqlite": "integer"},  # int, int64
    "uint": {"mysql": "bigint unsigned", "postgresql": "bigint", "sqlite": "integer"},
    "int32": {"mysql": "int", "postgresql": "int", "sqlite": "int"},  # gorm:"type:int"
    "str": {"mysql": "longtext", "postgresql": "text", "sqlite": "text"},  # plain string
    "istr": {"mysql": "varchar(191)", "postgresql": "text", "sqlite": "text"},  # indexed/default
    "text": {"mysql": "text", "postgresql": "text", "sqlite": "text"},
    "bool": {"mysql": "tinyint(1)", "postgresql": "boolean", "sqlite": "numeric"},
    "float": {"mysql": "double", "postgresql": "decimal", "sqlite": "real"},
}

# (column, Go kind or literal SQL type, extra) for the reference's models (spec section 2).
REFERENCE_TABLES: dict[str, list[tuple[str, str, str]]] = {
    "users": [
        ("id", "pk", ""), ("username", "istr", ""), ("password", "str", "NOT NULL"),
        ("display_name", "istr", ""), ("role", "int32", "DEFAULT 1"),
        ("status", "int32", "DEFAULT 1"), ("email", "istr", ""), ("github_id", "istr", ""),
        ("wechat_id", "istr", ""), ("lark_id", "istr", ""), ("oidc_id", "istr", ""),
        ("access_token", "char(32)", ""), ("quota", "int", "DEFAULT 0"),
        ("used_quota", "int", "DEFAULT 0"), ("request_count", "int32", "DEFAULT 0"),
        ("group", "varchar(32)", "DEFAULT 'default'"), ("aff_code", "varchar(32)", ""),
        ("inviter_id", "int32", ""),
    ],
    "tokens": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char(48)", ""),
        ("status", "int", "DEFAULT 1"), ("name", "istr", ""), ("created_time", "int", ""),
        ("accessed_time", "int", ""), ("expired_time", "int", "DEFAULT -1"),
        ("remain_quota", "int", "DEFAULT 0"), ("unlimited_quota", "bool", "DEFAULT false"),
        ("used_quota", "int", "DEFAULT 0"), ("models", "text", ""),
        ("subnet", "istr", "DEFAULT ''"),
    ],
    "channels": [
        ("id", "pk", ""), ("type", "int", "DEFAULT 0"), ("key", "text", ""),
        ("status", "int", "DEFAULT 1"), ("name", "istr", ""), ("weight", "uint", "DEFAULT 0"),
        ("created_time", "int", ""), ("test_time", "int", ""), ("response_time", "int", ""),
        ("base_url", "istr", "DEFAULT ''"), ("other", "str", ""), ("balance", "float", ""),
        ("balance_updated_time", "int", ""), ("models", "str", ""),
        ("group", "varchar(32)", "DEFAULT 'default'"), ("used_quota", "int", "DEFAULT 0"),
        ("model_mapping", "varchar(1024)", "DEFAULT ''"), ("priority", "int", "DEFAULT 0"),
        ("config", "str", ""), ("system_prompt", "text", ""),
    ],
    "abilities": [
        ("group", "varchar(32)", ""), ("model", "istr", ""), ("channel_id", "int", ""),
        ("enabled", "bool", ""), ("priority", "int", "DEFAULT 0"),
    ],
    "redemptions": [
        ("id", "pk", ""), ("user_id", "int", ""), ("key", "char(32)", ""),
        ("status", "int", "DEFAULT 1"), ("name", "istr", ""), ("quota", "int", "DEFAULT 100"),
        ("created_time", "int", ""), ("redeemed_time", "int", ""),
    ],
    "options": [("key", "istr", ""), ("value", "str", "")],
    "logs": [
        ("id", "pk", ""), ("user_id", "int", ""), ("created_at", "int", ""),
        ("type", "int", ""), ("content", "str", ""), ("username", "istr", "DEFAULT ''"),
        ("token_name", "istr", "DEFAULT ''"), ("model_name", "istr", "DEFAULT ''"),
        ("quota", "int", "DEFAULT 0"), ("prompt_tokens", "int", "DEFAULT 0"),
        ("completion_tokens", "int", "DEFAULT 0"), ("channel_id", "int", ""),
        ("request_id", "istr", "DEFAULT ''"), ("elapsed_time", "int", "DEFAULT 0"),
        ("is_stream", "bool", "DEFAULT false"), ("system_prompt_reset", "bool", "DEFAULT false"),
    ],
}
REFERENCE_PK = {"abilities": ["group", "model", "channel_id"], "options": ["key"]}
# (table, name, columns, unique) as GORM names them.
REFERENCE_INDEXES = [
    ("users", "idx_users_username", ["username"], False),
    ("users", "idx_users_display_name", ["display_name"], False),
    ("users", "idx_users_email", ["email"], False),
    ("users", "idx_users_github_id", ["github_id"], False),
    ("users", "idx_users_wechat_id", ["wechat_id"], False),
    ("users", "idx_users_lark_id", ["lark_id"], False),
    ("users", "idx_users_oidc_id", ["oidc_id"], False),
    ("users", "idx_users_access_token", ["access_token"], True),
    ("users", "idx_users_aff_code", ["aff_code"], True),
    ("users", "idx_users_inviter_id", ["inviter_id"], False),
    ("tokens", "idx_tokens_key", ["key"], True),
    ("tokens", "idx_tokens_name", ["name"], False),
    ("channels", "idx_channels_name", ["name"], False),
    ("abilities", "idx_abilities_channel_id", ["channel_id"], False),
    ("abilities", "idx_abilities_priority", ["priority"], False),
    ("redemptions", "idx_redemptions_key", ["key"], True),
    ("redemptions", "idx_redemptions_name", ["name"], False),
    ("logs", "idx_logs_user_id", ["user_id"], False),
    ("logs", "idx_created_at_type", ["created_at", "type"], False),
    ("logs", "index_username_model_name", ["model_name", "username"], False),
    ("logs", "idx_logs_token_name", ["token_name"], False),
    ("logs", "idx_logs_model_name", ["model_name"], False),
    ("logs", "idx_logs_channel_id", ["channel_id"], False),
]
# Columns a reference database from before these features lacks.
OMITTED = {
    "users": {"lark_id", "oidc_id"},
    "channels": {"config", "system_prompt"},
    "logs": {"elapsed_time", "is_stream", "system_prompt_reset"},
}


def gorm_ddl(dialect: str) -> list[str]:
    """CREATE statements shaped like GORM AutoMigrate's for an older reference version."""
    quote = "`" if dialect == "mysql" else '"'

    def q(name: str) -> str:
        return f"{quote}{name}{quote}"

    statements: list[str] = []
    for table, columns in REFERENCE_TABLES.items():
        omitted = OMITTED.get(table, set())
        defs = []
        for name, kind, extra in columns:
            if name in omitted:
                continue
            type_ = GORM_TYPES[kind][dialect] if kind in GORM_TYPES else kind
            defs.append(" ".join(filter(None, [q(name), type_, extra])))
        pk = REFERENCE_PK.get(table, ["id"])
        if not (dialect == "sqlite" and pk == ["id"]):
            defs.append(f"PRIMARY KEY ({','.join(map(q, pk))})")
        if table == "users":
            # gorm:"unique" (GORM >= 1.25.7) is a named unique constraint.
            defs.append(f"CONSTRAINT {q('uni_users_username')} UNIQUE ({q('username')})")
        suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" else ""
        statements.append(f"CREATE TABLE {q(table)} ({','.join(defs)}){suffix}")
    for table, name, cols, unique in REFERENCE_INDEXES:
        if set(cols) & OMITTED.get(table, set()):
            continue
        statements.append(f"CREATE {'UNIQUE ' if unique else ''}INDEX {q(name)} "
                          f"ON {q(table)} ({','.join(map(q, cols))})")
    return statements


ROOT_HASH = bcrypt.hashpw(b"123456", bcrypt.gensalt(rounds=4)).decode()
BIG = 500_000_000_000_000  # beyond 32 bits: the quota columns must be 64-bit

REFERENCE_ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"username": "root", "password": ROOT_HASH, "display_name": "Root User", "role": 100,
         "status": 1, "email": "root@example.com", "github_id": "", "wechat_id": "",
         "access_token": "0123456789abcdef0123456789abcdef", "quota": BIG, "used_quota": 12345,
         "request_count": 7, "group": "default", "aff_code": "R00T", "inviter_id": 0},
        # An old row with NULLs where we now require a value.
        {"username": "alice", "password": ROOT_HASH, "display_name": None, "role": 1,
         "status": 2, "email": None, "github_id": "alice-gh", "wechat_id": "",
         "access_token": None, "quota": 100, "used_quota": 0, "request_count": 0,
         "group": "vip", "aff_code": None, "inviter_id": 1},
    ],
    "tokens": [
        {"user_id": 1, "key": "a" * 48, "status": 1, "name": "default",
         "created_time": 1_700_000_000, "accessed_time": 1_700_000_100, "expired_time": -1,
         "remain_quota": 0, "unlimited_quota": True, "used_quota": 42, "models": None,
         "subnet": None},
        {"user_id": 2, "key": "b" * 48, "status": 2, "name": None,
         "created_time": 1_700_000_000, "accessed_time": 1_700_000_000,
         "expired_time": 1_800_000_000, "remain_quota": 5000, "unlimited_quota": False,
         "used_quota": 0, "models": "gpt-4,gpt-3.5-turbo", "subnet": "10.0.0.0/8"},
    ],
    "channels": [
        {"type": 1, "key": "sk-upstream-1", "status": 1, "name": "openai", "weight": None,
         "created_time": 1_700_000_000, "test_time": 1_700_000_500, "response_time": 321,
         "base_url": "", "other": None, "balance": 12.5, "balance_updated_time": 1_700_000_600,
         "models": "gpt-4,gpt-3.5-turbo", "group": "default,vip", "used_quota": BIG,
         "model_mapping": '{"gpt-4": "gpt-4-0613"}', "priority": None},
        {"type": 14, "key": "sk-ant-2", "status": 3, "name": "claude", "weight": 10,
         "created_time": 1_700_000_001, "test_time": None, "response_time": 0,
         "base_url": "https://proxy.example", "other": "2023-06-01", "balance": 0,
         "balance_updated_time": 0, "models": None, "group": "default", "used_quota": 0,
         "model_mapping": None, "priority": 5},
    ],
    "abilities": [
        {"group": "default", "model": "gpt-4", "channel_id": 1, "enabled": True,
         "priority": None},
        {"group": "vip", "model": "gpt-4", "channel_id": 1, "enabled": True, "priority": None},
        {"group": "default", "model": "claude-3-opus", "channel_id": 2, "enabled": False,
         "priority": 5},
    ],
    "redemptions": [
        {"user_id": 1, "key": "c" * 32, "status": 3, "name": "gift", "quota": 1000,
         "created_time": 1_700_000_000, "redeemed_time": 1_700_001_000},
    ],
    "options": [
        {"key": "QuotaPerUnit", "value": "500000"},
        {"key": "ModelRatio", "value": '{"gpt-4": 15, "gpt-3.5-turbo": 0.75}'},
        {"key": "Notice", "value": ""},
    ],
    "logs": [
        {"user_id": 1, "created_at": 1_700_000_000, "type": 2,
         "content": "model ratio 15.00, completion ratio 2.00", "username": "root",
         "token_name": "default", "model_name": "gpt-4", "quota": 1234,
         "prompt_tokens": 10, "completion_tokens": 20, "channel_id": 1, "request_id": "req-1"},
        {"user_id": 2, "created_at": 1_700_000_001, "type": 1, "content": None,
         "username": "alice", "token_name": "", "model_name": "", "quota": 0,
         "prompt_tokens": 0, "completion_tokens": 0, "channel_id": 0, "request_id": ""},
    ],
}
ORDER = {"abilities": ["group", "model", "channel_id"], "options": ["key"]}
# Values adoption must fill in: NULL in an old row, where the model requires a value.
BACKFILLED = {
    ("users", 1): {"display_name": "", "email": ""},  # alice (row index 1)
    ("tokens", 1): {"name": ""},
    ("channels", 1): {"test_time": 0, "models": ""},
    ("logs", 1): {"content": ""},
}


async def build_reference_database(engine: AsyncEngine, dialect: str) -> None:
    async with engine.begin() as conn:
        for statement in gorm_ddl(dialect):
            await conn.execute(text(statement))
    async with engine.begin() as conn:
        meta = sa.MetaData()
        await conn.run_sync(meta.reflect)
        for table, rows in REFERENCE_ROWS.items():
            for row in rows:  # one by one, so ids are assigned in order
                await conn.execute(meta.tables[table].insert().values(row))


async def dump(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """Every row of the reference tables, in primary-key order."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        meta = sa.MetaData()
        await conn.run_sync(lambda c: meta.reflect(c, only=list(REFERENCE_TABLES)))
        for name in REFERENCE_TABLES:
            table = meta.tables[name]
            order = [table.c[c] for c in ORDER.get(name, ["id"])]
            result = await conn.execute(sa.select(table).order_by(*order))
            out[name] = [dict(r._mapping) for r in result]
    return out


def _unique_column_sets(insp: sa.Inspector, table: str) -> set[tuple[str, ...]]:
    sets = {tuple(ix["column_names"]) for ix in insp.get_indexes(table) if ix["unique"]}
    sets |= {tuple(uc["column_names"]) for uc in insp.get_unique_constraints(table)}
    return sets


@pytest.fixture
async def reference_db(db_dsn: str) -> str:
    """A fresh database shaped and filled like an older reference's; returns its DSN."""
    async with open_database(make_settings(db_dsn)) as db:
        await build_reference_database(db.engine, kind_of(db_dsn))
    return db_dsn


async def test_adopt_reference_database(reference_db: str,
                                        count_migrations: list[str]) -> None:
    async with open_database(make_settings(reference_db)) as db:
        before = await dump(db.engine)
        # Sanity: the fixture really is an old, unversioned reference database.
        assert await table_names(db.engine) == REFERENCE_MAIN_TABLES | LOG_TABLES
        assert "lark_id" not in before["users"][0]
        assert before["users"][1]["display_name"] is None
        assert len(before["users"]) == 2
        assert [u["id"] for u in before["users"]] == [1, 2]

        await upgrade(db)

        assert sorted(count_migrations) == ["logs", "main"]
        assert await table_names(db.engine) == MAIN_TABLES | LOG_TABLES | VERSION_TABLES
        assert await revisions(db) == AT_HEAD

        # Every row is still there with the same values, except NULLs we now require.
        after = await dump(db.engine)
        expected = copy.deepcopy(before)
        for (table, index), changes in BACKFILLED.items():
            expected[table][index].update(changes)
        for table, rows in after.items():
            old_columns = set(before[table][0])
            kept = [{k: v for k, v in row.items() if k in old_columns} for row in rows]
            assert kept == expected[table], table

        # The columns the old version lacked exist, filled with their defaults.
        for row in after["users"]:
            assert (row["lark_id"], row["oidc_id"]) == ("", "")
        for row in after["channels"]:
            assert row["config"] == ""
            assert row["system_prompt"] is None
        for row in after["logs"]:
            assert row["elapsed_time"] == 0
            for flag in ("is_stream", "system_prompt_reset"):
                assert row[flag] is not None
                assert not row[flag]
        # Nullable pointers stay NULL (the reference reads them as "unset").
        assert after["channels"][0]["priority"] is None
        assert after["channels"][0]["weight"] is None
        assert [a["priority"] for a in after["abilities"] if a["channel_id"] == 1] == [None, None]
        assert after["tokens"][0]["subnet"] is None

        # Same columns as the models; every model index exists (or is covered when unique).
        def check(insp: sa.Inspector) -> None:
            for metadata in (MainBase.metadata, LogBase.metadata):
                for table in metadata.tables.values():
                    columns = {c["name"] for c in insp.get_columns(table.name)}
                    assert columns == {c.name for c in table.columns}, table.name
                    names = {ix["name"] for ix in insp.get_indexes(table.name)}
                    names |= {uc["name"] for uc in insp.get_unique_constraints(table.name)}
                    uniques = _unique_column_sets(insp, table.name)
                    for index in table.indexes:
                        assert index.name in names, (table.name, index.name)
                        if index.unique:
                            cols = tuple(c.name for c in index.columns)
                            assert cols in uniques, (table.name, index.name)

        await inspect(db.engine, check)

        # Second upgrade: no migration runs, nothing changes.
        schema_before = await schema(db.engine)
        count_migrations.clear()
        await upgrade(db)
        assert count_migrations == []
        assert await schema(db.engine) == schema_before
        assert await dump(db.engine) == after
        assert await revisions(db) == AT_HEAD

        # The adopted database works through the models.
        async with db.session() as s:
            root = await s.get(User, 1)
            assert root is not None
            assert (root.username, root.role, root.quota, root.lark_id) == ("root", 100, BIG, "")
            assert bcrypt.checkpw(b"123456", root.password.encode())
            channel = await s.get(Channel, 1)
            assert channel is not None
            assert float(channel.balance) == 12.5
            assert (channel.priority, channel.config, channel.system_prompt) == (None, "", None)
            token = (await s.execute(sa.select(Token).where(Token.key == "a" * 48))).scalar_one()
            assert token.unlimited_quota is True
            abilities = (await s.execute(
                sa.select(Ability).where(Ability.channel_id == 1))).scalars().all()
            assert {(a.group, a.model, a.enabled) for a in abilities} == {
                ("default", "gpt-4", True), ("vip", "gpt-4", True)}
            s.add(User(username="bob", password=ROOT_HASH))
            s.add(Channel(key="sk-new", models="gpt-4o", name="new"))
            await s.commit()
        async with db.session() as s:
            bob = (await s.execute(sa.select(User).where(User.username == "bob"))).scalar_one()
            assert bob.id == 3
            assert (bob.group, bob.quota, bob.oidc_id) == ("default", 0, "")
            s.add(User(username="root", password=ROOT_HASH))
            with pytest.raises(IntegrityError):
                await s.commit()
        async with db.log_session() as s:
            s.add(Log(user_id=1, created_at=1_700_000_002, type=2, content="new",
                      elapsed_time=250, is_stream=True))
            await s.commit()
            rows = (await s.execute(sa.select(Log).order_by(Log.id))).scalars().all()
            assert [(r.id, r.elapsed_time, r.is_stream) for r in rows] == [
                (1, 0, False), (2, 0, False), (3, 250, True)]


# --- c. separate log database -----------------------------------------------------------------

LOG_DB_PAIRS = [
    ("sqlite", "sqlite"),
    ("mysql", "sqlite"),
    ("postgresql", "sqlite"),
    ("sqlite", "postgresql"),
    ("postgresql", "mysql"),
    ("mysql", "mysql"),
    ("postgresql", "postgresql"),
]


@pytest.mark.parametrize(("main_kind", "log_kind"), LOG_DB_PAIRS,
                         ids=[f"{m}+{lg}" for m, lg in LOG_DB_PAIRS])
async def test_separate_log_database(main_kind: str, log_kind: str, tmp_path: Path,
                                     count_migrations: list[str]) -> None:
    async with fresh_database(main_kind, tmp_path) as main_dsn, \
            fresh_database(log_kind, tmp_path) as log_dsn:
        settings = make_settings(main_dsn, log_dsn)
        assert settings.separate_log_database
        async with open_database(settings) as db, open_database(settings) as other:
            assert db.log_engine is not db.engine
            # Two masters at once: each database is migrated exactly once, no deadlock.
            await asyncio.gather(upgrade(db), upgrade(other))
            assert sorted(count_migrations) == ["logs", "main"]

            assert await table_names(db.engine) == MAIN_TABLES | {"alembic_version"}
            assert await table_names(db.log_engine) == LOG_TABLES | {"alembic_version_logs"}
            assert await revisions(db) == AT_HEAD
            assert await model_diff(db.engine, MainBase.metadata) == []
            assert await model_diff(db.log_engine, LogBase.metadata) == []

            count_migrations.clear()
            await upgrade(db)
            assert count_migrations == []

            # Slaves see both databases at head.
            await migrate.wait_for_schema(db.engine, db.log_engine, max_wait=5, poll=0.05)


async def test_log_engine_on_the_main_database(db_dsn: str) -> None:
    """LOG_SQL_DSN naming the main database another way: two engines, one database."""
    settings = make_settings(db_dsn)
    async with open_database(settings) as main, open_database(settings) as logs:
        await asyncio.wait_for(
            migrate.upgrade((main.engine, main.main_url), (logs.engine, logs.main_url)), HANG)
        assert await table_names(main.engine) == MAIN_TABLES | LOG_TABLES | VERSION_TABLES
        assert await revisions(main) == AT_HEAD


# --- d. concurrent masters --------------------------------------------------------------------


async def test_concurrent_upgrades(db_dsn: str) -> None:
    settings = make_settings(db_dsn)
    async with open_database(settings) as one, open_database(settings) as two, \
            open_database(settings) as three:
        await asyncio.gather(upgrade(one), upgrade(two), upgrade(three))
        for db in (one, two, three):
            assert await revisions(db) == AT_HEAD
        assert await table_names(one.engine) == MAIN_TABLES | LOG_TABLES | VERSION_TABLES
        assert await model_diff(one.engine, MainBase.metadata) == []


async def test_upgrade_waits_for_the_migration_lock(db_dsn: str) -> None:
    settings = make_settings(db_dsn)
    async with open_database(settings) as holder, open_database(settings) as db:
        async with holder.engine.connect() as conn:
            async with migrate.migration_lock(conn, holder.main_url):
                task = asyncio.create_task(upgrade(db))
                await asyncio.sleep(0.5)
                assert not task.done(), "upgrade did not wait for the lock"
                assert await table_names(holder.engine) == set()
            await asyncio.wait_for(task, HANG)
        assert await revisions(db) == AT_HEAD


UPGRADE_SCRIPT = """
import asyncio, sys
from oneapi.db import migrate
from oneapi.db.engine import Database
from oneapi.settings import load_settings

async def main():
    db = Database.from_settings(load_settings({"SQL_DSN": sys.argv[1]}, dotenv=None))
    try:
        await migrate.upgrade((db.engine, db.main_url), (db.log_engine, db.logs_url))
    finally:
        await db.dispose()

asyncio.run(main())
"""


async def test_concurrent_upgrades_from_processes(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path) as dsn:
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", UPGRADE_SCRIPT, dsn, cwd=tmp_path,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)
        ]
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), HANG)
        for proc, (out, _) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out.decode(errors="replace")
        async with open_database(make_settings(dsn)) as db:
            assert await revisions(db) == AT_HEAD
            assert await table_names(db.engine) == MAIN_TABLES | LOG_TABLES | VERSION_TABLES


# --- e. slaves waiting for the schema ---------------------------------------------------------


async def test_wait_for_schema_times_out_on_empty_database(db_dsn: str) -> None:
    async with open_database(make_settings(db_dsn)) as db:
        started = asyncio.get_running_loop().time()
        with pytest.raises(migrate.SchemaError) as info:
            await migrate.wait_for_schema(db.engine, db.log_engine, max_wait=0.3, poll=0.05)
        assert asyncio.get_running_loop().time() - started < 10
        assert "master" in str(info.value)
        # Waiting must not create anything.
        assert await table_names(db.engine) == set()


async def test_wait_for_schema_returns_after_upgrade(db_dsn: str) -> None:
    settings = make_settings(db_dsn)
    async with open_database(settings) as slave, open_database(settings) as master:
        waiter = asyncio.create_task(
            migrate.wait_for_schema(slave.engine, slave.log_engine, max_wait=HANG, poll=0.05))
        await asyncio.sleep(0.3)
        assert not waiter.done(), "wait_for_schema returned before the schema existed"
        await upgrade(master)
        await asyncio.wait_for(waiter, 10)
        assert await revisions(slave) == AT_HEAD


async def test_wait_for_schema_rejects_half_migrated(db_dsn: str) -> None:
    """Main tree at head but logs tree missing: still not usable."""
    async with open_database(make_settings(db_dsn)) as db:
        async with db.engine.connect() as conn:
            await migrate._upgrade_tree(conn, "main", db.main_url)
        with pytest.raises(migrate.SchemaError):
            await migrate.wait_for_schema(db.engine, db.log_engine, max_wait=0.2, poll=0.05)
