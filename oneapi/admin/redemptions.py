"""/api routes: redemptions (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("redemptions", __name__, url_prefix="/api")
