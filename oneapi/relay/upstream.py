"""The pooled upstream HTTP client: httpx's API over aiohttp's transport.

One per worker. httpx's own transport tops out far lower under load on this
stack (DESIGN.md section 3.5); the aiohttp transport keeps httpx's interface.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from oneapi.settings import Settings

CONNECT_TIMEOUT = 10.0
_URL_CACHE_SIZE = 1024


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing. The client is shared by every caller and every
    channel, so an upstream's Set-Cookie must not ride along on later requests
    (the reference's Go client has no jar either); and httpx's extraction runs
    on every response, Set-Cookie or not (~35 us, a tenth of a request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class UpstreamClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` without a cookie jar."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cookies = _NoCookies()


_urls: dict[str, httpx.URL] = {}


def parsed_url(url: str) -> httpx.URL:
    """``httpx.URL(url)``, parsed once per process: an upstream URL repeats request
    after request, and httpx's pure-Python parse is about half of what building a
    request costs. (A URL may hold a key in its query: it stays in this process's
    memory, as the channel itself does.)"""
    parsed = _urls.get(url)
    if parsed is None:
        parsed = httpx.URL(url)
        if len(_urls) >= _URL_CACHE_SIZE:
            _urls.clear()
        _urls[url] = parsed
    return parsed


def make_client(settings: Settings) -> UpstreamClient:
    limits = httpx.Limits(max_connections=4096, max_keepalive_connections=512,
                          keepalive_expiry=60)
    proxy = httpx.Proxy(settings.relay_proxy) if settings.relay_proxy else None
    transport = AiohttpTransport(limits=limits, proxy=proxy, trust_env=proxy is None)

    def session() -> aiohttp.ClientSession:
        # The session the transport would open itself (created on first use, in
        # the running loop), with no cookie jar: see _NoCookies.
        connector = aiohttp.TCPConnector(keepalive_timeout=limits.keepalive_expiry,
                                         ssl=transport.ssl_context,
                                         limit=limits.max_connections or 0)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    transport.client = session
    read = float(settings.relay_timeout) if settings.relay_timeout > 0 else None
    timeout = httpx.Timeout(read, connect=CONNECT_TIMEOUT)
    return UpstreamClient(transport=transport, timeout=timeout, follow_redirects=False)
