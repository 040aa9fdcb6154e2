"""/api routes: users (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("users", __name__, url_prefix="/api")
