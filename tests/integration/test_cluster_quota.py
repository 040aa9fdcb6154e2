"""Quota across nodes with Redis-held balances (real MariaDB, a private
redis-server, a master and two slave processes from ``python -m nodes.cluster``).

- Three nodes spending one nearly exhausted user (and a limited token) at once
  never take it below zero, and the database ends at start - sum(logged charges)
  to the unit; the nodes' /metrics request counters add up to what was sent.
- A node killed (-9) with a request in flight leaves a reservation in Redis; the
  surviving nodes credit it back once its heartbeat expires.
- Redis killed mid-load: the nodes keep answering from the database, reconnect
  when Redis returns on the same port, and the ledger still balances.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from oneapi.db.models import Token, User
from oneapi.relay.balances import holds_key, token_key, user_key
from tests.fakes.upstream import FakeUpstream
from tests.integration.test_cluster import ROOT_ACCESS, chat, cluster, ledger, mysql_dsn
from tests.redis_server import RedisServer, redis_server
from tests.relay_support import CHAT, HELLO, db_call
from tests.seed import Seeder

__all__ = ["mysql_dsn", "redis_server"]  # fixtures
pytestmark = pytest.mark.server

BATCHED = {"BATCH_UPDATE_ENABLED": "true", "BATCH_UPDATE_INTERVAL": "1"}


async def _seed(s: Seeder, fake: FakeUpstream, quota: int) -> dict[str, Any]:
    await s.migrate()
    await s.set(User, 1, access_token=ROOT_ACCESS)
    alice = await s.user("alice", quota=quota)
    return {
        "alice": alice,
        "unl": await s.token(alice, name="unl"),
        "lim": await s.token(alice, name="lim", unlimited=False, remain_quota=10**9),
        "ch": await s.channel(fake.base_url, key="key-a", name="a"),
        "slow": await s.channel(fake.base_url, key="key-slow", name="slow", models="gpt-4"),
    }


def seed(dsn: str, fake: FakeUpstream, quota: int) -> dict[str, Any]:
    return db_call(dsn, lambda s: _seed(s, fake, quota))


async def _charges(s: Seeder, user_id: int) -> list[tuple[str, str, int]]:
    return [(r.request_id, r.token_name, r.quota) for r in await s.logs(user_id=user_id, type=2)]


def charges(dsn: str, user_id: int) -> list[tuple[str, str, int]]:
    return db_call(dsn, lambda s: _charges(s, user_id))


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@dataclass
class Spenders:
    """Client threads sending chats through the nodes until told to stop (or, with
    `until_refused`, until each has been refused a few times in a row)."""

    statuses: Counter[int] = field(default_factory=Counter)
    acked: list[str] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, urls: list[str], keys: list[str], per_node: int = 4,
              until_refused: bool = False) -> None:
        for url in urls:
            for i in range(per_node):
                t = threading.Thread(target=self._client,
                                     args=(url, keys[i % len(keys)], until_refused), daemon=True)
                t.start()
                self._threads.append(t)

    def _client(self, url: str, key: str, until_refused: bool) -> None:
        refused = 0
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set() and refused < 3:
                try:
                    reply = chat(http, url, key)
                except httpx.HTTPError:
                    with self._lock:
                        self.errors += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.statuses[reply.status_code] += 1
                    if reply.status_code == 200:
                        self.acked.append(reply.headers["x-oneapi-request-id"])
                if until_refused and reply.status_code in (401, 403):
                    refused += 1
                elif until_refused:
                    refused = 0

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


def relay_requests(http: httpx.Client, url: str) -> float:
    """Sum of oneapi_http_requests_total{group="relay"} on one node."""
    total = 0.0
    for family in text_string_to_metric_families(http.get(url + "/metrics").text):
        for sample in family.samples:
            if sample.name == "oneapi_http_requests_total" and \
                    sample.labels.get("group") == "relay":
                total += sample.value
    return total


def test_nodes_cannot_overspend_a_nearly_exhausted_user(
        mysql_dsn: str, redis_server: RedisServer, tmp_path: Path) -> None:
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake, 10**9)
        alice = ids["alice"]
        with cluster(tmp_path, mysql_dsn, redis_server.url, env=BATCHED) as c, \
                httpx.Client(timeout=30) as http:
            urls = list(c.urls.values())
            # Reserve only the prompt: the final charges exceed the reservations, so
            # the last ones must be capped at what is left.
            option = http.put(c.urls["master"] + "/api/option/",
                              headers={"Authorization": ROOT_ACCESS},
                              json={"key": "PreConsumedQuota", "value": "0"}).json()
            assert option["success"], option

            def everywhere() -> bool:
                for url in urls:
                    listed = http.get(url + "/api/option/",
                                      headers={"Authorization": ROOT_ACCESS}).json()["data"]
                    if {o["key"]: o["value"] for o in listed}.get("PreConsumedQuota") != "0":
                        return False
                return True

            wait_until(everywhere, 5, "the option on every node")
            # One charge to learn what a request costs.
            first = chat(http, c.urls["master"], ids["unl"])
            assert first.status_code == 200, first.text
            wait_until(lambda: bool(charges(mysql_dsn, alice)), 10, "the first charge")
            [(_, _, cost)] = charges(mysql_dsn, alice)
            assert cost > 0

            # The limited token (never used yet) gets 10 requests' worth, the user 25:
            # set through the admin API, so every node's Redis balance is reloaded.
            token_start, user_start = 10 * cost + cost // 2, 25 * cost + cost // 3
            lim_id = db_call_id(mysql_dsn, ids["lim"])
            db_call(mysql_dsn, lambda s: s.set(Token, lim_id, remain_quota=token_start))
            edit = http.put(c.urls["master"] + "/api/user", headers={"Authorization": ROOT_ACCESS},
                            json={"id": alice, "quota": user_start}).json()
            assert edit["success"], edit
            time.sleep(0.5)

            spenders = Spenders()
            spenders.start(urls, [ids["lim"], ids["unl"]], per_node=4, until_refused=True)
            spenders.join(timeout=25)
            assert spenders.errors == 0
            # Refused: 403 (quota short) or, for the exhausted token, 401.
            assert {200, 403} <= set(spenders.statuses) <= {200, 401, 403}, spenders.statuses

            # Every request sent is counted once, on the node that answered it (the
            # count is taken as the answer ends: allow the last ones a moment).
            wait_until(lambda: sum(relay_requests(http, url) for url in urls)
                       >= spenders.sent + 1, 5, "the request counters")
            assert sum(relay_requests(http, url) for url in urls) == spenders.sent + 1
            assert c.stop() == 0, c.text()

        quota, logged, used, request_ids = ledger(mysql_dsn, alice)
        spent = charges(mysql_dsn, alice)
        assert request_ids == set(spenders.acked) | {first.headers["x-oneapi-request-id"]}
        assert used == logged
        # Never below zero, and exhausted: what is left is less than one request.
        assert 0 <= quota < cost
        assert quota == user_start - (logged - cost)
        token = db_call(mysql_dsn, lambda s: s.get(Token, lim_id))
        on_token = sum(q for _, name, q in spent if name == "lim")
        assert 0 <= token.remain_quota < cost
        assert token.remain_quota == token_start - on_token
        # Redis held the live balances all along: they end where the ledger does.
        redis = redis_server.client()
        try:
            assert int(redis.hget(user_key(alice), "b") or -1) == quota
            assert int(redis.hget(token_key(alice, ids["lim"]), "b") or -1) == token.remain_quota
        finally:
            redis.close()


def db_call_id(dsn: str, key: str) -> int:
    return db_call(dsn, lambda s: s.token_id(key))


def test_a_killed_nodes_reservation_is_credited_back(
        mysql_dsn: str, redis_server: RedisServer, tmp_path: Path) -> None:
    start = 1_000_000  # below 100x the slow request's estimate: it reserves in Redis
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake, start)
        alice = ids["alice"]
        fake.behave("key-slow", delay=120)
        redis = redis_server.client()
        try:
            with cluster(tmp_path, mysql_dsn, redis_server.url, env=BATCHED) as c, \
                    httpx.Client(timeout=30) as http:
                assert chat(http, c.urls["master"], ids["unl"]).status_code == 200

                def balance() -> int:
                    return int(redis.hget(user_key(alice), "b") or -1)

                wait_until(lambda: balance() == start - sum(q for *_, q in
                                                            charges(mysql_dsn, alice)),
                           10, "the first charge to be flushed")
                before = balance()

                def slow() -> None:
                    # The node dies under it.
                    with httpx.Client(timeout=5) as client, \
                            contextlib.suppress(httpx.HTTPError):
                        client.post(c.urls["slave1"] + CHAT, json={
                            "model": "gpt-4", "messages": HELLO, "max_tokens": 1000},
                            headers={"Authorization": f"Bearer sk-{ids['unl']}"})

                threading.Thread(target=slow, daemon=True).start()
                fake.wait_for(2, timeout=10)  # the slave is calling the upstream ...
                held = before - balance()
                assert held > 0  # ... with the estimate reserved in Redis
                assert redis.hlen(holds_key(alice)) == 1

                os.killpg(c.pids["slave1"], signal.SIGKILL)
                # Heartbeat TTL (10 s) + a recovery pass (5 s) on a surviving node.
                wait_until(lambda: balance() == before, 30, "the reservation's refund")
                assert redis.hlen(holds_key(alice)) == 0
                assert c.logged("credited back 1 quota reservations of dead nodes")
                c.stop()
        finally:
            redis.close()
        quota, logged, used, _ = ledger(mysql_dsn, alice)
        assert quota + logged == start and used == logged
        assert len(charges(mysql_dsn, alice)) == 1  # the killed request cost nothing


def test_redis_restart_mid_load(mysql_dsn: str, redis_server: RedisServer,
                                tmp_path: Path) -> None:
    start = 10**9
    with FakeUpstream() as fake:
        ids = seed(mysql_dsn, fake, start)
        alice = ids["alice"]
        spenders = Spenders()
        redis = redis_server.client()
        try:
            with cluster(tmp_path, mysql_dsn, redis_server.url, env=BATCHED) as c:
                spenders.start(list(c.urls.values()), [ids["unl"], ids["lim"]], per_node=3)
                time.sleep(1.5)
                redis_server.kill()
                time.sleep(2)
                down = len(spenders.acked)
                time.sleep(1.5)
                assert len(spenders.acked) > down  # still served, from the database
                redis_server.start()
                # Reconnected: the balance is back in Redis, every node's heartbeat too.
                wait_until(lambda: bool(redis.exists(user_key(alice))), 10,
                           "the balance to be reloaded into Redis")
                wait_until(lambda: len(list(redis.scan_iter("oneapi:journal-alive:*"))) == 3,
                           10, "the nodes' heartbeats")
                time.sleep(1)
                spenders.stop()
                assert c.logged("Redis quota balances unavailable")  # the fallback ran
                assert c.stop() == 0, c.text()
        finally:
            redis.close()
        assert spenders.errors == 0
        assert set(spenders.statuses) == {200}, spenders.statuses
        quota, logged, used, request_ids = ledger(mysql_dsn, alice)
        assert quota + logged == start
        assert used == logged
        assert request_ids == set(spenders.acked)
        lim_id = db_call_id(mysql_dsn, ids["lim"])
        token = db_call(mysql_dsn, lambda s: s.get(Token, lim_id))
        on_token = sum(q for _, name, q in charges(mysql_dsn, alice) if name == "lim")
        assert token.remain_quota == 10**9 - on_token
