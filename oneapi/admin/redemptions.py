"""/api/redemption: redemption codes (admin; spec 1.5.5, 7.8).

Redeeming a code is POST /api/user/topup (the users module).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_ADMIN, Principal
from oneapi.admin.redemptions_schemas import (
    REDEMPTION_OUT,
    REDEMPTIONS_OUT,
    RedemptionCreate,
    RedemptionOut,
    RedemptionUpdate,
    RedemptionUpdateQuery,
)
from oneapi.admin.tokens_schemas import PageQuery, SearchPageQuery, data_response
from oneapi.errors import ApiError
from oneapi.state import app_state
from oneapi.store import redemptions as store

blueprint = Blueprint("redemptions", __name__, url_prefix="/api")

ONE = data_response(RedemptionOut)
MANY = data_response(RedemptionOut, many=True)
KEYS = data_response({"type": "array", "items": {"type": "string"}})


@api_route(blueprint, "/redemption", ["GET"], role=ROLE_ADMIN, query=PageQuery,
           response=MANY, summary="List redemption codes, newest first")
async def list_redemptions(query: dict[str, Any]) -> Any:
    rows = await store.list_redemptions(app_state().database,
                                        offset=query["p"] * query["size"], limit=query["size"])
    return REDEMPTIONS_OUT.dump(rows)


@api_route(blueprint, "/redemption/search", ["GET"], role=ROLE_ADMIN, query=SearchPageQuery,
           response=MANY, summary="Codes whose id is keyword or whose name starts with it")
async def search_redemptions(query: dict[str, Any]) -> Any:
    rows = await store.search_redemptions(app_state().database, query["keyword"],
                                          offset=query["p"] * query["size"],
                                          limit=query["size"])
    return REDEMPTIONS_OUT.dump(rows)


@api_route(blueprint, "/redemption/<int:id>", ["GET"], role=ROLE_ADMIN, response=ONE,
           summary="One redemption code")
async def get_redemption(id: int) -> Any:
    return REDEMPTION_OUT.dump(await store.get_redemption(app_state().database, id))


@api_route(blueprint, "/redemption", ["POST"], role=ROLE_ADMIN, body=RedemptionCreate,
           response=KEYS, summary="Create 1-100 codes at once; data = their keys")
async def create_redemptions(me: Principal, body: dict[str, Any]) -> Any:
    return await store.create_redemptions(app_state().database, me.id, body["name"],
                                          body["quota"], body["count"])


@api_route(blueprint, "/redemption", ["PUT"], role=ROLE_ADMIN, body=RedemptionUpdate,
           query=RedemptionUpdateQuery, response=ONE,
           summary="Update a code's name and quota (or only its status)")
async def update_redemption(body: dict[str, Any], query: dict[str, Any]) -> Any:
    db = app_state().database
    if query["status_only"]:
        if "status" not in body:
            raise ApiError("invalid parameters: status: Missing data for required field.")
        row = await store.set_redemption_status(db, body["id"], body["status"])
    else:
        values: dict[str, Any] = {name: body[name] for name in ("name", "quota") if name in body}
        row = await store.update_redemption(db, body["id"], values)
    return REDEMPTION_OUT.dump(row)


@api_route(blueprint, "/redemption/<int:id>", ["DELETE"], role=ROLE_ADMIN,
           summary="Delete a redemption code")
async def delete_redemption(id: int) -> Any:
    await store.delete_redemption(app_state().database, id)
    return None
