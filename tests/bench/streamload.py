"""Streaming load generator (aiohttp client, uvloop), run as its own process.

Keeps `--concurrency` chat-completion streams open for `--duration` seconds (each
worker starts a new stream as soon as its previous one ends), then lets the
streams in flight finish (at most `--grace` seconds). Prints one JSON object:
streams started/completed/failed, SSE events received per second and
time-to-first-byte percentiles (request sent -> first body bytes).

    python -m tests.bench.streamload --url http://127.0.0.1:3000 --key sk-... \
        --concurrency 500 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

BODY = json.dumps({"model": "gpt-3.5-turbo", "stream": True,
                   "messages": [{"role": "user", "content": "Hello"}]}).encode()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Stats:
    def __init__(self) -> None:
        self.started = 0
        self.completed = 0
        self.failed = 0
        self.events = 0
        self.ttfb: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.sample = ""


async def one_stream(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                     stats: Stats) -> None:
    stats.started += 1
    sent = time.perf_counter()
    done = False
    try:
        async with session.post(url, data=BODY, headers=headers) as resp:
            stats.statuses[resp.status] += 1
            if resp.status != 200:
                body = await resp.read()
                if not stats.sample:
                    stats.sample = f"HTTP {resp.status}: {body[:300].decode(errors='replace')}"
                stats.failed += 1
                return
            buffer = b""
            first = True
            async for data in resp.content.iter_any():
                if first:
                    stats.ttfb.append(time.perf_counter() - sent)
                    first = False
                buffer += data
                events = buffer.split(b"\n\n")
                buffer = events.pop()
                for event in events:
                    if event.startswith(b"data: [DONE]"):
                        done = True
                    elif event.strip():
                        stats.events += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        stats.errors[type(exc).__name__] += 1
        if not stats.sample:
            stats.sample = f"{type(exc).__name__}: {exc}"
    if done:
        stats.completed += 1
    else:
        stats.failed += 1


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = args.url.rstrip("/") + "/v1/chat/completions"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.key}"}
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=args.read_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + args.duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await one_stream(session, url, headers, stats)

        tasks = [asyncio.ensure_future(worker()) for _ in range(args.concurrency)]
        _, pending = await asyncio.wait(tasks, timeout=args.duration + args.grace)
        cut = len(pending)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elapsed = time.perf_counter() - start
    ms = [t * 1000 for t in stats.ttfb]
    return {
        "concurrency": args.concurrency,
        "duration": args.duration,
        "elapsed": round(elapsed, 3),
        "started": stats.started,
        "completed": stats.completed,
        "failed": stats.failed + cut,
        "cut_at_grace": cut,
        "events": stats.events,
        "events_per_s": round(stats.events / elapsed, 1) if elapsed else 0.0,
        "completed_per_s": round(stats.completed / elapsed, 1) if elapsed else 0.0,
        "ttfb_p50_ms": percentile(ms, 50),
        "ttfb_p99_ms": percentile(ms, 99),
        "statuses": {str(k): v for k, v in stats.statuses.items()},
        "errors": dict(stats.errors),
        "sample_error": stats.sample,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Concurrent SSE streams against one URL.")
    parser.add_argument("--url", required=True, help="base URL (…/v1/chat/completions is added)")
    parser.add_argument("--key", default="bench")
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--grace", type=float, default=15.0)
    parser.add_argument("--read-timeout", type=float, default=30.0)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        sys.exit("streamload: only loopback targets are allowed")
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
