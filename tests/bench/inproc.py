"""In-process CPU cost of one non-stream relay request (no sockets, no load generator).

The real gateway app (``create_app``) on a seeded SQLite database, called
directly through ASGI with the body ``tests.bench.run`` sends; the upstream is an
``httpx.MockTransport`` answering a canned OpenAI reply, so nearly all the CPU
measured is the gateway's own. Useful on a busy machine where wrk figures are
noise: CPU time per request (``time.process_time``) is far less sensitive to
other processes, and under ``valgrind --tool=callgrind`` the instruction count
is repeatable (run twice with different ``-n`` and divide the difference).

    .venv/bin/python -m tests.bench.inproc -n 3000 --rounds 5
    .venv/bin/python -m tests.bench.inproc -n 2000 --profile   # cProfile top entries
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.bench.run import BODY, MODEL, TOKEN_KEY, seed_database

REPLY = orjson.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 8, "completion_tokens": 3, "total_tokens": 11},
})
REPLY_HEADERS = [("content-type", "application/json"), ("date", "Sat, 28 Nov 2026 00:00:00 GMT"),
                 ("server", "Python/3.11 aiohttp/3.11"), ("openai-processing-ms", "1"),
                 ("x-request-id", "req_bench")]


def upstream(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers=REPLY_HEADERS, content=REPLY)


SCOPE_HEADERS = [(b"host", b"127.0.0.1:3000"),
                 (b"authorization", f"Bearer sk-{TOKEN_KEY}".encode()),
                 (b"content-type", b"application/json"),
                 (b"content-length", str(len(BODY)).encode())]


def scope() -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
            "query_string": b"", "root_path": "", "headers": list(SCOPE_HEADERS),
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 3000), "extensions": {}}


async def one(app: Any) -> int:
    body = BODY.encode()
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope(), receive, send)
    return status


async def handshake(prefix: str, app: Any, n: int) -> None:
    """For callgrind started with --instr-atstart=no: create PREFIX.ready, wait for
    PREFIX.go (the driver turns instrumentation on), run n requests, create
    PREFIX.done and wait for PREFIX.stop (instrumentation off again)."""
    Path(prefix + ".ready").touch()
    while not os.path.exists(prefix + ".go"):
        await asyncio.sleep(0.05)
    for _ in range(n):
        await one(app)
    Path(prefix + ".done").touch()
    while not os.path.exists(prefix + ".stop"):
        await asyncio.sleep(0.05)


async def run_bare(args: argparse.Namespace) -> None:
    """The same loop against ``tests/bench/bare_app.py`` (the benchmark's ceiling)."""
    from tests.bench import bare_app

    await bare_app.app.startup()
    try:
        client = bare_app.clients[0]
        await client.aclose()
        bare_app.clients[0] = httpx.AsyncClient(transport=httpx.MockTransport(upstream),
                                                timeout=client.timeout)
        await measure(bare_app.app, args)
    finally:
        await bare_app.app.shutdown()


async def measure(app: Any, args: argparse.Namespace) -> None:
    for _ in range(300):  # warm caches, code paths and the accounting writer
        status = await one(app)
        assert status == 200, status
    if args.handshake:
        await handshake(args.handshake, app, args.n)
        return
    per_request: list[float] = []
    for _ in range(args.rounds):
        start = time.process_time()
        for _ in range(args.n):
            await one(app)
        per_request.append((time.process_time() - start) / args.n * 1e6)
        await asyncio.sleep(0.3)  # let the accounting writer drain
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        for _ in range(args.n):
            await one(app)
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats(args.sort)
        stats.print_stats(args.top)
        if args.callees:
            stats.print_callees(args.callees)
        print(out.getvalue(), file=sys.stderr)
    memory = {k: v.split()[0] for k, v in (line.split(":", 1) for line in
              Path("/proc/self/status").read_text().splitlines()) if k in ("VmRSS", "VmHWM")}
    print(f"memory: VmRSS {int(memory['VmRSS']) / 1024:.1f} MiB, "
          f"peak (VmHWM) {int(memory['VmHWM']) / 1024:.1f} MiB", file=sys.stderr)
    rounds = ", ".join(f"{v:.1f}" for v in per_request)
    print(f"CPU per request: median {statistics.median(per_request):.1f} us, "
          f"min {min(per_request):.1f} us (rounds: {rounds})", file=sys.stderr)


async def run(args: argparse.Namespace) -> None:
    from oneapi.app import create_app
    from oneapi.log import setup_logging
    from oneapi.settings import load_settings
    from oneapi.state import app_state

    tmp = Path(tempfile.mkdtemp(prefix="oneapi-inproc-"))
    env = {"SQLITE_PATH": str(tmp / "one-api.db"), "LOG_DIR": str(tmp / "logs")}
    await asyncio.to_thread(seed_database, env, "http://upstream.invalid")
    settings = load_settings(env, dotenv=None)
    setup_logging(str(tmp / "logs"))
    app = create_app(settings)
    await app.startup()
    try:
        async with app.app_context():
            relay = app_state().relay
        assert relay is not None
        # The gateway's own client class and settings, only the transport swapped.
        client = relay.client
        await client.aclose()
        relay.client = type(client)(transport=httpx.MockTransport(upstream),
                                    timeout=client.timeout, follow_redirects=False)
        await measure(app, args)
    finally:
        await app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare", action="store_true",
                        help="measure tests/bench/bare_app.py instead of the gateway")
    parser.add_argument("--handshake", metavar="PREFIX",
                        help="one round of n requests, gated by files (see handshake())")
    parser.add_argument("--profile", action="store_true", help="cProfile one more round")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--callees", metavar="REGEX", help="also print these functions' callees")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    # Access-log lines go to stdout: keep them off the terminal.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    asyncio.run(run_bare(args) if args.bare else run(args))


if __name__ == "__main__":
    main()
