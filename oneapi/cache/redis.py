"""The Redis client from REDIS_CONN_STRING (spec 9.3).

* ``redis://...`` or ``rediss://...``: one server;
* comma-separated ``host:port`` addresses with REDIS_MASTER_NAME: Sentinel;
* comma-separated addresses without it: Redis Cluster.
REDIS_PASSWORD applies to the latter two (a URL carries its own).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from oneapi.settings import Settings


def _addresses(conn: str) -> list[tuple[str, int]]:
    out = []
    for part in conn.split(","):
        host, _, port = part.strip().rpartition(":")
        out.append((host or part.strip(), int(port) if port.isdigit() else 6379))
    return out


def make_redis(settings: Settings) -> Any:
    """A client (Redis, or a Sentinel master / RedisCluster with the same API)."""
    conn = settings.redis_conn_string.strip()
    options: dict[str, Any] = {"socket_connect_timeout": 5, "socket_timeout": 10,
                               "health_check_interval": 15}
    if "://" in conn:
        return Redis.from_url(conn, **options)
    password = settings.redis_password or None
    if settings.redis_master_name:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            _addresses(conn), sentinel_kwargs={"password": password},
            password=password, **options)
        return sentinel.master_for(settings.redis_master_name)
    nodes = [ClusterNode(host, port) for host, port in _addresses(conn)]
    return RedisCluster(startup_nodes=nodes, password=password)
