"""The pooled upstream HTTP client: httpx's API over aiohttp's transport.

One per worker. httpx's own transport tops out far lower under load on this
stack (DESIGN.md section 3.5); the aiohttp transport keeps httpx's interface.
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

from oneapi.settings import Settings

CONNECT_TIMEOUT = 10.0


def make_client(settings: Settings) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=4096, max_keepalive_connections=512,
                          keepalive_expiry=60)
    proxy = httpx.Proxy(settings.relay_proxy) if settings.relay_proxy else None
    transport = AiohttpTransport(limits=limits, proxy=proxy, trust_env=proxy is None)
    read = float(settings.relay_timeout) if settings.relay_timeout > 0 else None
    timeout = httpx.Timeout(read, connect=CONNECT_TIMEOUT)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
