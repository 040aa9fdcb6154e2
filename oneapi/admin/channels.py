"""/api routes: channels (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("channels", __name__, url_prefix="/api")
