"""/api routes: tokens (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("tokens", __name__, url_prefix="/api")
