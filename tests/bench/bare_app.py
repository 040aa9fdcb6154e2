"""The "bare pass-through" reference: the ceiling the gateway is compared with.

One Quart app, Hypercorn (uvloop worker, 1 worker), the gateway's own upstream
client (`oneapi.relay.upstream.make_client`: pooled httpx over the httpx-aiohttp
transport, no cookie jar), so transport tuning never counts as relay speed-up;
POST /v1/chat/completions is forwarded to $UPSTREAM as bytes (streams relayed
chunk by chunk as they arrive).

    UPSTREAM=http://127.0.0.1:9000 python tests/bench/bare_app.py --port 9001
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
from quart import Quart, Response, request

from oneapi.relay.upstream import make_client
from oneapi.settings import load_settings

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9000").rstrip("/")
UPSTREAM_KEY = os.environ.get("UPSTREAM_KEY", "bench-key")

app = Quart(__name__)
app.config.update(RESPONSE_TIMEOUT=None, BODY_TIMEOUT=None)
clients: list[httpx.AsyncClient] = []


@app.before_serving
async def open_client() -> None:
    clients.append(make_client(load_settings({}, dotenv=None)))


@app.after_serving
async def close_client() -> None:
    for client in clients:
        await client.aclose()


@app.post("/v1/chat/completions")
async def chat_completions() -> Response:
    body = await request.get_data()
    stream = bool(orjson.loads(body).get("stream"))
    client = clients[0]
    upstream = await client.send(client.build_request(
        "POST", UPSTREAM + "/v1/chat/completions", content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"},
    ), stream=True)
    content_type = upstream.headers.get("content-type", "application/json")
    if not stream:
        try:
            data = await upstream.aread()
        finally:
            await upstream.aclose()
        return Response(data, status=upstream.status_code, content_type=content_type)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    response = Response(relay(), status=upstream.status_code, content_type=content_type)
    response.timeout = None
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the worker imports us by name

    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.worker_class = "uvloop"
    config.workers = args.workers
    config.backlog = 2048
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5
    config.accesslog = None
    config.application_path = "tests.bench.bare_app:app"
    sys.exit(run(config))


if __name__ == "__main__":
    main()
