"""Node start-up on every database: migrations, root bootstrap, masters and slaves."""

from __future__ import annotations

import time
from pathlib import Path

import bcrypt
import httpx
import pytest
from sqlalchemy import func, select

from oneapi.db.models import Token, User
from tests.dbs import make_settings, open_database
from tests.server import launch, running, wait_ready

pytestmark = pytest.mark.server


async def _users(dsn: str) -> list[User]:
    async with open_database(make_settings(dsn)) as db, db.session() as session:
        return list((await session.execute(select(User))).scalars())


async def test_master_boots_migrates_and_creates_root_once(db_dsn: str, tmp_path: Path) -> None:
    env = {"SQL_DSN": db_dsn, "INITIAL_ROOT_TOKEN": "sk-initialroottoken0001",
           "INITIAL_ROOT_ACCESS_TOKEN": "0123456789abcdef0123456789abcdef"}
    with running(tmp_path / "a", env) as srv:
        assert httpx.get(srv.base_url + "/api/status").json()["success"] is True
    users = await _users(db_dsn)
    assert [(u.username, u.role, u.status, u.display_name) for u in users] == [
        ("root", 100, 1, "Root User")]
    root = users[0]
    assert root.quota == 500_000_000_000_000
    assert root.access_token == "0123456789abcdef0123456789abcdef"
    assert root.password.startswith("$2") and bcrypt.checkpw(b"123456", root.password.encode())
    async with open_database(make_settings(db_dsn)) as db, db.session() as session:
        token = (await session.execute(select(Token))).scalar_one()
    assert (token.id, token.user_id, token.name) == (1, root.id, "Initial Root Token")
    assert token.key == "initialroottoken0001"  # stored without the sk- prefix
    assert token.unlimited_quota and token.expired_time == -1

    # A restart keeps the data, creates nobody, and still warns about the password.
    with running(tmp_path / "b", env) as srv:
        pass
    assert len(await _users(db_dsn)) == 1
    assert "default password" in srv.log()


async def test_changed_root_password_silences_the_warning(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'one-api.db'}"
    with running(tmp_path / "a", {"SQL_DSN": dsn}):
        pass
    async with open_database(make_settings(dsn)) as db, db.session() as session:
        root = (await session.execute(select(User))).scalar_one()
        root.password = bcrypt.hashpw(b"a-better-password", bcrypt.gensalt()).decode()
        await session.commit()
    with running(tmp_path / "b", {"SQL_DSN": dsn}) as srv:
        pass
    assert "default password" not in srv.log()


async def test_two_masters_starting_together_create_one_root(db_dsn: str, tmp_path: Path) -> None:
    servers = [launch(tmp_path / name, {"SQL_DSN": db_dsn}) for name in ("m1", "m2")]
    try:
        for srv in servers:
            wait_ready(srv)
    finally:
        codes = [srv.stop() for srv in servers]
    assert codes == [0, 0]
    users = await _users(db_dsn)
    assert [u.username for u in users] == ["root"]


async def test_slave_waits_for_a_master_then_serves(db_dsn: str, tmp_path: Path) -> None:
    slave = launch(tmp_path / "slave", {"SQL_DSN": db_dsn, "NODE_TYPE": "slave",
                                        "FRONTEND_BASE_URL": "https://console.example.com/"})
    try:
        time.sleep(3)
        assert slave.process.poll() is None  # still waiting, not crashed
        with pytest.raises(httpx.HTTPError):
            httpx.get(slave.base_url + "/api/status", timeout=1)
        with running(tmp_path / "master", {"SQL_DSN": db_dsn}):
            wait_ready(slave)
        # The slave serves the API itself but sends page requests to the frontend.
        assert httpx.get(slave.base_url + "/api/status").json()["success"] is True
        page = httpx.get(slave.base_url + "/token?p=2")
        assert page.status_code == 301
        assert page.headers["location"] == "https://console.example.com/token?p=2"
        missing = httpx.get(slave.base_url + "/api/no-such-route")
        assert missing.status_code == 404
    finally:
        slave.stop()
    # The slave never created anything: the one root came from the master.
    assert [u.username for u in await _users(db_dsn)] == ["root"]


async def test_separate_log_database(tmp_path: Path) -> None:
    main = f"sqlite:///{tmp_path / 'main.db'}"
    logs = f"sqlite:///{tmp_path / 'logs.db'}"
    with running(tmp_path / "srv", {"SQL_DSN": main, "LOG_SQL_DSN": logs}):
        pass
    from sqlalchemy import inspect

    async with open_database(make_settings(main, logs)) as db:
        async with db.engine.connect() as conn:
            main_tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            count = (await conn.execute(select(func.count()).select_from(User))).scalar()
        async with db.log_engine.connect() as conn:
            log_tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert "logs" in log_tables and "users" not in log_tables
    assert "users" in main_tables and "logs" not in main_tables
    assert count == 1
