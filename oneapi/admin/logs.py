"""/api routes: logs (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("logs", __name__, url_prefix="/api")
