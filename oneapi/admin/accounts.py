"""/api routes: accounts (being written)."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("accounts", __name__, url_prefix="/api")
