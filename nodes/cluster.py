"""Run a local cluster: one master and N slaves, each a ``python -m oneapi`` process.

    python -m nodes.cluster --slaves 2 [--sql-dsn DSN] [--redis URL] [--base-port 3000]

The master listens on ``--base-port``, the slaves on the next ports. All share the
database, Redis and one SESSION_SECRET (generated unless given or set), so a login
on one node is valid on every other; slaves redirect page requests to the master
(FRONTEND_BASE_URL). Each node logs under ``<--log-dir>/<node name>``. Other
settings come from the environment, as for a single node.

A MySQL or PostgreSQL database the DSN names is created first if it does not exist
yet: this is a development tool. A node itself never creates databases, so a typo in
a production DSN cannot start an empty install.

Once every node answers ``/api/status`` their URLs are printed, one line each:

    node master http://127.0.0.1:3000 pid 1234

Each node runs in its own session, so its pid is also the id of the process group
holding its Hypercorn workers (``kill -9 -<pid>`` kills a whole node).
SIGINT/SIGTERM are forwarded to all nodes; the launcher exits when they all have
(a node that dies alone is reported and the others keep running).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


@dataclass
class Node:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nodes.cluster",
                                     description="Start a master and N slave nodes locally.")
    parser.add_argument("--slaves", type=int, default=1, help="number of slaves (default 1)")
    parser.add_argument("--sql-dsn", default=None,
                        help="SQL_DSN of every node (default: the environment's)")
    parser.add_argument("--redis", default=None,
                        help="REDIS_CONN_STRING of every node (default: the environment's)")
    parser.add_argument("--base-port", type=int, default=3000,
                        help="port of the master; slaves take the next ones")
    parser.add_argument("--session-secret", default=None,
                        help="shared SESSION_SECRET (default: $SESSION_SECRET or random)")
    parser.add_argument("--log-dir", default="logs/cluster",
                        help="each node logs in a sub-directory of this one")
    parser.add_argument("--workers", type=int, default=None, help="workers per node")
    parser.add_argument("--ready-timeout", type=float, default=120.0,
                        help="seconds to wait for every node to answer /api/status")
    return parser


def node_env(base: dict[str, str], *, name: str, port: int, master_port: int,
             secret: str, sql_dsn: str | None, redis: str | None,
             log_dir: Path) -> dict[str, str]:
    env = dict(base)
    env.update({"PORT": str(port), "SESSION_SECRET": secret,
                "NODE_TYPE": "master" if name == "master" else "slave",
                "LOG_DIR": str(log_dir / name)})
    if name == "master":
        env.pop("FRONTEND_BASE_URL", None)
    else:
        env["FRONTEND_BASE_URL"] = f"http://127.0.0.1:{master_port}"
    if sql_dsn is not None:
        env["SQL_DSN"] = sql_dsn
    if redis is not None:
        env["REDIS_CONN_STRING"] = redis
    return env


def start_nodes(args: argparse.Namespace) -> list[Node]:
    secret = args.session_secret or os.environ.get("SESSION_SECRET") or secrets.token_hex(24)
    log_dir = Path(args.log_dir).resolve()
    base = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    names = ["master"] + [f"slave{i}" for i in range(1, args.slaves + 1)]
    nodes = []
    for offset, name in enumerate(names):
        port = args.base_port + offset
        (log_dir / name).mkdir(parents=True, exist_ok=True)
        env = node_env(base, name=name, port=port, master_port=args.base_port, secret=secret,
                       sql_dsn=args.sql_dsn, redis=args.redis, log_dir=log_dir)
        cmd = [sys.executable, "-m", "oneapi"]
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        # Own session: a terminal's Ctrl-C reaches the nodes once, through us.
        process = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603
        nodes.append(Node(name, port, process))
    return nodes


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/status", timeout=2) as resp:  # noqa: S310
            return int(resp.status) == 200
    except OSError:
        return False


def wait_ready(nodes: Sequence[Node], timeout: float) -> str | None:
    """None once every node answers, else why not."""
    deadline = time.monotonic() + timeout
    waiting = list(nodes)
    while waiting:
        for node in list(waiting):
            code = node.process.poll()
            if code is not None:
                return f"{node.name} exited with {code} before it was ready"
            if answers(node.url):
                waiting.remove(node)
        if waiting:
            if time.monotonic() > deadline:
                late = ", ".join(n.name for n in waiting)
                return f"not ready after {timeout:.0f}s: {late}"
            time.sleep(0.1)
    return None


def signal_all(nodes: Sequence[Node], sig: int) -> None:
    for node in nodes:
        if node.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                node.process.send_signal(sig)


async def _ensure_database(dsn: str) -> str | None:
    """Create the MySQL/PostgreSQL database `dsn` names if missing; returns its name if
    it was created."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from oneapi.db.dsn import parse_dsn

    url = make_url(parse_dsn(dsn).render())
    backend, name = url.get_backend_name(), url.database
    if backend not in ("mysql", "postgresql") or not name:
        return None
    postgres = backend == "postgresql"
    server = url._replace(database="postgres" if postgres else None)  # URL is a namedtuple
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            query = ("SELECT 1 FROM pg_database WHERE datname = :name" if postgres else
                     "SELECT 1 FROM information_schema.schemata WHERE schema_name = :name")
            if (await conn.execute(text(query), {"name": name})).scalar() is not None:
                return None
            quoted = conn.dialect.identifier_preparer.quote(name)
            charset = "" if postgres else " CHARACTER SET utf8mb4"
            await conn.execute(text(f"CREATE DATABASE {quoted}{charset}"))
            return name
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.slaves < 0:
        print("--slaves must be >= 0", file=sys.stderr)
        return 2
    dsn = args.sql_dsn or os.environ.get("SQL_DSN", "")
    if dsn:
        try:
            created = asyncio.run(_ensure_database(dsn))
        except Exception as exc:  # the nodes would fail the same way: say it once, clearly
            print(f"cluster: cannot reach the database: {exc}", file=sys.stderr)
            return 1
        if created:
            print(f"cluster: created database {created}", flush=True)
    nodes = start_nodes(args)
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        signal_all(nodes, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)

    problem = wait_ready(nodes, args.ready_timeout)
    if problem is not None and not stopping:
        print(f"cluster: {problem}; stopping", file=sys.stderr, flush=True)
        signal_all(nodes, signal.SIGTERM)
    elif not stopping:
        for node in nodes:
            print(f"node {node.name} {node.url} pid {node.process.pid}", flush=True)
        print("cluster ready", flush=True)

    codes: dict[str, int] = {}
    while len(codes) < len(nodes):
        for node in nodes:
            if node.name not in codes and (code := node.process.poll()) is not None:
                codes[node.name] = code
                if not stopping:
                    print(f"cluster: {node.name} exited with {code}", file=sys.stderr,
                          flush=True)
        time.sleep(0.1)
    if problem is not None:
        return 1
    bad = [c for c in codes.values() if c != 0]
    return 0 if stopping or not bad else (bad[0] if bad[0] > 0 else 1)


if __name__ == "__main__":
    sys.exit(main())
