"""One error type per layer, mapped to responses in one place (``oneapi.app``).

* ``RelayError``: anything under /v1 - rendered as an OpenAI error object.
* ``ApiError``: anything under /api - rendered as the reference's envelope,
  ``{"success": false, "message": ...}``, HTTP 200 unless a status is given.
"""

from __future__ import annotations

from typing import Any


class RelayError(Exception):
    def __init__(self, status: int, message: str, *, type: str = "one_api_error",
                 code: Any = "", param: str = "", preflight: bool = False,
                 upstream: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        # Key/routing refusals: the reference sends only "message" and "type".
        self.preflight = preflight
        # An upstream OpenAI error object, passed through with its own fields.
        self.upstream = upstream

    def body(self, request_id: str) -> dict[str, Any]:
        message = f"{self.message} (request id: {request_id})" if request_id else self.message
        if self.upstream is not None:
            return {"error": {**self.upstream, "message": message}}
        if self.preflight:
            return {"error": {"message": message, "type": self.type}}
        return {"error": {"message": message, "type": self.type, "param": self.param,
                          "code": self.code}}


class ApiError(Exception):
    def __init__(self, message: str, *, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"success": False, "message": self.message}
