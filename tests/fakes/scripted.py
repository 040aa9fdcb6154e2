"""A base for provider fakes whose scripted replies are plain option dicts
(the Ali, Baidu and Zhipu fakes)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from aiohttp import web

from tests.fakes.anthropic import ScriptedFake, pieces


class OptionFake(ScriptedFake):
    """``next(**options)`` scripts the next reply; unscripted requests get ``{}``."""

    def __init__(self) -> None:
        super().__init__()
        self._options: deque[dict[str, Any]] = deque()

    def next(self, **options: Any) -> None:
        with self._lock:
            self._options.append(options)

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            self._options.clear()
        super().reset(key)

    def options(self) -> dict[str, Any]:
        with self._lock:
            return self._options.popleft() if self._options else {}

    @staticmethod
    async def write_sse(request: web.Request, raw: bytes,
                        headers: dict[str, str] | None = None) -> web.StreamResponse:
        """``raw`` as a text/event-stream body in small pieces (lines split across reads)."""
        resp = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream;charset=UTF-8", "Cache-Control": "no-cache",
            **(headers or {})})
        await resp.prepare(request)
        for piece in pieces(raw):
            await resp.write(piece)
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp
