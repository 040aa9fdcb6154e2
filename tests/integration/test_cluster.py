"""A real cluster: ``python -m nodes.cluster`` (a master and slaves, each a
``python -m oneapi`` process) on MariaDB and Redis, in front of a FakeUpstream.

Covers what one node cannot show: sessions, tokens and channel changes made on
the master take effect on a slave at once; slaves redirect pages; /metrics on
every node; and the ledger - ``quota + sum(consume logs) == start`` to the unit -
with three nodes spending one user's quota at once, both after a clean SIGTERM
and after a ``kill -9`` of a slave in the middle of it (its Redis accounting
journal is applied by the surviving nodes).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from oneapi.db.models import User
from tests.dbs import fresh_database
from tests.fakes.upstream import FakeUpstream
from tests.redis_support import redis_url  # noqa: F401 (fixture)
from tests.relay_support import CHAT, HELLO, db_call
from tests.seed import Seeder
from tests.server import ROOT, clean_env

ROOT_ACCESS = "0123456789abcdef0123456789abcdef"
START_QUOTA = 10**12  # far above 100x any estimate: every request takes the trusted path


@pytest.fixture
async def mysql_dsn(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("mysql", tmp_path) as dsn:
        yield dsn


def consecutive_ports(count: int) -> int:
    """A base port such that base .. base+count-1 are free now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count > 65000:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no free port range")


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    output: Path
    logs: Path
    urls: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def node_logs(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.logs.rglob("*.log")))

    def logged(self, text: str) -> bool:
        return any(text in p.read_text(errors="replace") for p in self.logs.rglob("*.log"))

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for pid in self.pids.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)


@contextlib.contextmanager
def cluster(workdir: Path, dsn: str, redis: str, *, slaves: int = 2,
            env: dict[str, str] | None = None) -> Iterator[Cluster]:
    workdir.mkdir(parents=True, exist_ok=True)
    base = consecutive_ports(slaves + 1)
    output = workdir / "cluster.out"
    full_env = clean_env({"GLOBAL_API_RATE_LIMIT": "0", "GLOBAL_WEB_RATE_LIMIT": "0",
                          "PYTHONPATH": str(ROOT), **(env or {})})
    cmd = [sys.executable, "-m", "nodes.cluster", "--slaves", str(slaves), "--sql-dsn", dsn,
           "--redis", redis, "--base-port", str(base), "--log-dir", str(workdir / "logs")]
    process = subprocess.Popen(cmd, cwd=workdir, env=full_env, stdout=output.open("wb"),
                               stderr=subprocess.STDOUT)
    c = Cluster(process, output, workdir / "logs")
    try:
        deadline = time.monotonic() + 60
        while "cluster ready" not in c.text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"cluster did not start:\n{c.text()}\n{c.node_logs()}")
            time.sleep(0.1)
        for name, url, pid in re.findall(r"^node (\S+) (\S+) pid (\d+)$", c.text(), re.M):
            c.urls[name] = url
            c.pids[name] = int(pid)
        assert len(c.urls) == slaves + 1, c.text()
        yield c
    finally:
        c.stop()


async def _seed(s: Seeder, fake: FakeUpstream) -> dict[str, Any]:
    await s.migrate()
    await s.set(User, 1, access_token=ROOT_ACCESS)
    alice = await s.user("alice", quota=START_QUOTA)
    return {
        "alice": alice,
        "alice_key": await s.token(alice),
        "ch_a": await s.channel(fake.base_url, key="key-a", name="a"),
        "ch_b": await s.channel(fake.base_url, key="key-b", name="b"),
    }


def seed(dsn: str, fake: FakeUpstream) -> dict[str, Any]:
    return db_call(dsn, lambda s: _seed(s, fake))


def chat(http: httpx.Client, url: str, key: str) -> httpx.Response:
    return http.post(url + CHAT, json={"model": "gpt-3.5-turbo", "messages": HELLO},
                     headers={"Authorization": f"Bearer sk-{key.removeprefix('sk-')}"})


# --- one cluster, the shared-state checks --------------------------------------------------


def test_master_changes_reach_slaves(mysql_dsn: str, redis_url: str,  # noqa: F811
                                     tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake)
        with cluster(tmp_path, mysql_dsn, redis_url) as c, httpx.Client(timeout=30) as http:
            master, slave = c.urls["master"], c.urls["slave1"]
            root = {"Authorization": ROOT_ACCESS}

            # A login on the master is valid on a slave: same SESSION_SECRET.
            login = http.post(master + "/api/user/login",
                              json={"username": "root", "password": "123456"})
            assert login.json()["success"], login.text
            cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
            me = httpx.get(slave + "/api/user/self", headers={"Cookie": cookie}).json()
            assert me["success"] and me["data"]["username"] == "root", me

            # A token created on the master works on a slave within a second.
            made = http.post(master + "/api/token", headers=root,
                             json={"name": "fresh", "unlimited_quota": True}).json()
            assert made["success"], made
            key = made["data"]["key"]
            created = time.monotonic()
            while True:
                reply = chat(http, slave, key)
                if reply.status_code == 200:
                    break
                assert time.monotonic() - created < 1.0, reply.text
                time.sleep(0.05)

            # A channel disabled on the master is no longer used by a slave within a second.
            off = http.put(master + "/api/channel", headers=root,
                           json={"id": ids["ch_a"], "status": 2}).json()
            assert off["success"], off
            time.sleep(1.0)
            fake.clear()
            for _ in range(20):
                assert chat(http, slave, ids["alice_key"]).status_code == 200
            used = {r.key for r in fake.requests}
            assert used == {"key-b"}, used

            # A stream through a slave ends with [DONE] (held until its charge is journalled).
            stream = http.post(slave + CHAT, json={"model": "gpt-3.5-turbo", "messages": HELLO,
                                                   "stream": True},
                               headers={"Authorization": f"Bearer sk-{ids['alice_key']}"})
            assert stream.status_code == 200, stream.text
            assert stream.text.endswith("data: [DONE]\n\n"), stream.text[-200:]

            # Slaves redirect page requests to the master, which serves them.
            page = http.get(slave + "/token?p=2")
            assert page.status_code == 301
            assert page.headers["location"] == master + "/token?p=2"
            assert http.get(master + "/token?p=2").status_code != 301

            # /metrics parses on every node.
            for name, url in c.urls.items():
                families = {f.name for f in
                            text_string_to_metric_families(http.get(url + "/metrics").text)}
                assert families, name


# --- the ledger under load -------------------------------------------------------------------


@dataclass
class Load:
    """Client threads spending alice's quota through the given nodes."""

    http_timeout: float = 30
    acked: list[str] = field(default_factory=list)
    failed: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, urls: list[str], key: str, per_node: int = 6) -> None:
        for url in urls:
            for _ in range(per_node):
                t = threading.Thread(target=self._client, args=(url, key), daemon=True)
                t.start()
                self._threads.append(t)

    def _client(self, url: str, key: str) -> None:
        with httpx.Client(timeout=self.http_timeout) as http:
            while not self._stop.is_set():
                try:
                    reply = chat(http, url, key)
                except httpx.HTTPError:
                    with self._lock:
                        self.failed += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    if reply.status_code == 200:
                        self.acked.append(reply.headers["x-oneapi-request-id"])
                    else:
                        self.failed += 1

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


async def _ledger(s: Seeder, user_id: int) -> tuple[int, int, int, set[str]]:
    user = await s.get(User, user_id)
    logs = await s.logs(user_id=user_id, type=2)
    return user.quota, await s.logged_quota(user_id), user.used_quota, \
        {row.request_id for row in logs}


def ledger(dsn: str, user_id: int) -> tuple[int, int, int, set[str]]:
    return db_call(dsn, lambda s: _ledger(s, user_id))


def journals(redis: str) -> list[bytes]:
    client = Redis.from_url(redis)
    try:
        return list(client.scan_iter(match="oneapi:journal:*"))
    finally:
        client.close()


def test_three_nodes_spending_one_quota_balance(mysql_dsn: str, redis_url: str,  # noqa: F811
                                               tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake)
        load = Load()
        with cluster(tmp_path, mysql_dsn, redis_url,
                     env={"BATCH_UPDATE_ENABLED": "true", "BATCH_UPDATE_INTERVAL": "1"}) as c:
            load.start(list(c.urls.values()), ids["alice_key"])
            time.sleep(4)
            load.stop()
            assert c.stop() == 0, c.text()
        quota, logged, used, request_ids = ledger(mysql_dsn, ids["alice"])
        assert len(load.acked) > 50, (len(load.acked), load.failed)
        assert load.failed == 0
        assert logged > 0
        assert quota + logged == START_QUOTA
        assert used == logged
        assert request_ids == set(load.acked)
        assert journals(redis_url) == []


def test_kill_9_of_a_slave_loses_no_charge(mysql_dsn: str, redis_url: str,  # noqa: F811
                                          tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake)
        load = Load()
        # Long batches: the slave dies holding seconds of uncommitted charges.
        with cluster(tmp_path, mysql_dsn, redis_url,
                     env={"BATCH_UPDATE_ENABLED": "true", "BATCH_UPDATE_INTERVAL": "5"}) as c:
            load.start(list(c.urls.values()), ids["alice_key"])
            time.sleep(3)
            # The node and its Hypercorn worker: its own process group (session).
            os.killpg(c.pids["slave1"], signal.SIGKILL)
            time.sleep(1)
            load.stop()
            acked = set(load.acked)
            assert len(acked) > 50, (len(acked), load.failed)
            # The survivors' recovery (heartbeat TTL + scan interval) applies the journal.
            deadline = time.monotonic() + 40
            while True:
                quota, logged, used, request_ids = ledger(mysql_dsn, ids["alice"])
                if acked <= request_ids or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert quota + logged == START_QUOTA
            missing = acked - request_ids
            assert not missing, f"{len(missing)} acknowledged charges lost"
            # ... and it was the journal that saved them (the batches were still open).
            assert c.logged("taking over the accounting journal of dead node"), c.node_logs()
            c.stop()
        quota, logged, used, request_ids = ledger(mysql_dsn, ids["alice"])
        assert quota + logged == START_QUOTA
        assert used == logged
        assert acked <= request_ids
        assert journals(redis_url) == []
