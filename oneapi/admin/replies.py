"""The reference's envelope: ``{"success", "message", "data"}``."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Response


def envelope(data: Any = None, message: str = "", *, success: bool = True,
             status: int = 200) -> Response:
    body: dict[str, Any] = {"success": success, "message": message}
    if data is not None or success:
        body["data"] = data
    return Response(orjson.dumps(body), status=status, content_type="application/json")
