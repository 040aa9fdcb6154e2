"""/api routes: options (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("options", __name__, url_prefix="/api")
