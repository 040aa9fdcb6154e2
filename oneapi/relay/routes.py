"""/v1 routes. The relay pipeline itself arrives with the relay issue; until
then every /v1 path answers the reference's JSON 404."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("relay", __name__, url_prefix="/v1")
