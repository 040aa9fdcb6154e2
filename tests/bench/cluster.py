"""Cluster benchmark: non-stream req/s of 1 node vs 3 nodes (master + 2 slaves).

    .venv/bin/python -m tests.bench.cluster --sql-dsn mysql+aiomysql://root@127.0.0.1:3306/test

For each size it starts ``python -m nodes.cluster --slaves N`` (1 Hypercorn worker
per node) on a fresh database (created on the server ``--sql-dsn`` points at, and
dropped afterwards) and a private ``redis-server`` on a free port (or ``--redis``),
in front of the fake upstream, then loads it with a round-robin client: one wrk
per node, all at once, the connections split evenly between them. Prints one
Markdown table (see README.md). Everything shares the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.bench.run import (
    ROOT,
    TOKEN_KEY,
    Processes,
    base_env,
    check_tools,
    free_port,
    http_ok,
    probe,
    raise_nofile,
    say,
    seed_database,
    wait_until,
    wrk,
)
from tests.dbs import admin_engine, dsn_with_database


@contextlib.contextmanager
def scratch_database(server_dsn: str) -> Any:
    name = "oneapi_bench_" + secrets.token_hex(4)
    kind = "mysql" if server_dsn.startswith("mysql") or "@tcp(" in server_dsn else "postgresql"
    quote = "`" if kind == "mysql" else '"'

    async def run(sql: str) -> None:
        engine = admin_engine(server_dsn)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run(f"CREATE DATABASE {quote}{name}{quote}"))
    try:
        yield dsn_with_database(server_dsn, name)
    finally:
        asyncio.run(run(f"DROP DATABASE IF EXISTS {quote}{name}{quote}"))


def start_cluster(procs: Processes, workdir: Path, slaves: int, dsn: str,
                  redis: str) -> tuple[Any, list[str]]:
    log_dir = workdir / f"cluster{slaves}"
    proc = procs.start(f"cluster-{slaves + 1}", [
        sys.executable, "-m", "nodes.cluster", "--slaves", str(slaves), "--sql-dsn", dsn,
        "--redis", redis, "--base-port", str(free_port_range(slaves + 1)),
        "--log-dir", str(log_dir), "--workers", "1"],
        env=base_env({"GLOBAL_API_RATE_LIMIT": "0", "GRACEFUL_TIMEOUT": "5"}), cwd=ROOT)
    wait_until(lambda: "cluster ready" in proc.log.read_text(errors="replace"), proc,
               "ready", timeout=120)
    urls = re.findall(r"^node \S+ (\S+) pid \d+$", proc.log.read_text(errors="replace"), re.M)
    for url in urls:
        wait_until(http_ok(url + "/api/status"), proc, f"{url} ready")
    return proc, urls


def free_port_range(count: int) -> int:
    from tests.integration.test_cluster import consecutive_ports

    return consecutive_ports(count)


def round_robin(urls: list[str], key: str, connections: int, seconds: float,
                workdir: Path) -> dict[str, Any]:
    """One wrk per node at the same time, connections split evenly: total req/s."""
    share = [connections // len(urls) + (1 if i < connections % len(urls) else 0)
             for i in range(len(urls))]
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        runs = list(pool.map(
            lambda i: wrk(urls[i], key, share[i], seconds, 1, workdir / f"rr{i}.lua"),
            range(len(urls))))
    requests = sum(r["requests"] for r in runs)
    return {"rps": sum(r["rps"] for r in runs), "requests": requests,
            "errors": sum(r["errors"] for r in runs),
            "p50_ms": max(r["p50"] for r in runs) / 1000,
            "p99_ms": max(r["p99"] for r in runs) / 1000,
            "per_node": [round(r["rps"], 1) for r in runs]}


def table(results: dict[int, dict[str, Any]], meta: dict[str, Any]) -> str:
    one = results.get(1, {}).get("rps")
    lines = ["| Nodes | req/s | vs 1 node | per node req/s | p50 (ms) | p99 (ms) | errors |",
             "|---|---|---|---|---|---|---|"]
    for nodes, r in sorted(results.items()):
        if "rps" not in r:
            lines.append(f"| {nodes} | failed: {r.get('failure', '?')[:200]} | | | | | |")
            continue
        vs = f"{r['rps'] / one:.2f}x" if one else "n/a"
        lines.append(f"| {nodes} | {r['rps']:,.1f} | {vs} | "
                     f"{', '.join(f'{v:,.1f}' for v in r['per_node'])} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['errors']} / {r['requests']} |")
    lines += ["", f"{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}; "
              f"{meta['connections']} connections in all, {meta['seconds']:g} s after "
              f"{meta['warmup']:g} s warm-up, 1 worker per node, {meta['database']} + Redis. "
              "The nodes, the database, Redis, the fake upstream and wrk share the CPUs."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench.cluster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sql-dsn", default=os.environ.get("ONEAPI_TEST_MYSQL_DSN", ""),
                   help="a MySQL/PostgreSQL server (any database on it) to create the "
                        "scratch database on (default: $ONEAPI_TEST_MYSQL_DSN)")
    p.add_argument("--redis", default="",
                   help="REDIS_CONN_STRING (default: a private redis-server on a free port)")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 3], help="node counts")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--out", type=Path, help="also write the table to this file")
    p.add_argument("--quick", action="store_true", help="2 s runs, 1 s warm-up")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 2, 1
    if not args.sql_dsn:
        p.error("--sql-dsn (or ONEAPI_TEST_MYSQL_DSN) is required: the nodes share a database")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="oneapi-bench-cluster-"))
    procs = Processes(workdir)
    results: dict[int, dict[str, Any]] = {}
    kind = "MySQL" if "mysql" in args.sql_dsn or "@tcp(" in args.sql_dsn else "PostgreSQL"
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "connections": args.connections,
            "seconds": args.seconds, "warmup": args.warmup, "database": kind}
    key = f"sk-{TOKEN_KEY}"
    try:
        port = free_port()
        fake = procs.start("fake-upstream", [sys.executable, "-m", "tests.fakes.upstream",
                                             "--port", str(port)], env=base_env())
        upstream = f"http://127.0.0.1:{port}"
        wait_until(http_ok(upstream + "/v1/models"), fake, "ready")
        redis = args.redis
        if not redis:
            binary = shutil.which("redis-server")
            if binary is None:
                sys.exit("redis-server is not installed (or pass --redis URL)")
            rport = free_port()
            procs.start("redis", [binary, "--port", str(rport), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no"], env=base_env())
            redis = f"redis://127.0.0.1:{rport}/0"
            time.sleep(0.5)
        for size in args.sizes:
            with scratch_database(args.sql_dsn) as dsn:
                say(f"{size} node(s): seeding a scratch database")
                seed_database({"SQL_DSN": dsn}, upstream)
                cluster = None
                try:
                    cluster, urls = start_cluster(procs, workdir, size - 1, dsn, redis)
                    _, desc = probe(urls[-1], key)
                    say(f"{size} node(s): probe {desc}")
                    round_robin(urls, key, args.connections, args.warmup, workdir)
                    res = round_robin(urls, key, args.connections, args.seconds, workdir)
                    results[size] = res
                    say(f"{size} node(s): {res['rps']:.0f} req/s ({res['per_node']}), "
                        f"errors {res['errors']}")
                except Exception as exc:
                    results[size] = {"failure": str(exc)}
                    say(f"{size} node(s) failed: {exc}")
                finally:
                    if cluster is not None:
                        cluster.stop(timeout=60)
                        procs.started.remove(cluster)
    except KeyboardInterrupt:
        say("interrupted; stopping everything")
        return 130
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    out = table(results, meta)
    print(out)
    if args.out:
        args.out.write_text(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
