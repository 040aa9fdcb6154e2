"""/api/token: a user's own API keys (spec 1.5.3).

Always scoped to the caller: another user's token id answers "record not found"
exactly like an id that does not exist. After every write the relay's cache
forgets the key, so the change applies to the next request.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from oneapi.admin import invalidate
from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_COMMON, Principal
from oneapi.admin.tokens_schemas import (
    TOKEN_OUT,
    TOKENS_OUT,
    SearchPageQuery,
    TokenCreate,
    TokenListQuery,
    TokenOut,
    TokenUpdate,
    TokenUpdateQuery,
    data_response,
)
from oneapi.errors import ApiError
from oneapi.state import app_state
from oneapi.store import tokens as store

blueprint = Blueprint("tokens", __name__, url_prefix="/api")

ONE = data_response(TokenOut)
MANY = data_response(TokenOut, many=True)


@api_route(blueprint, "/token", ["GET"], role=ROLE_COMMON, query=TokenListQuery,
           response=MANY, summary="List the caller's tokens, a page at a time")
async def list_tokens(me: Principal, query: dict[str, Any]) -> Any:
    rows = await store.list_tokens(app_state().database, me.id,
                                   offset=query["p"] * query["size"], limit=query["size"],
                                   order=query["order"])
    return TOKENS_OUT.dump(rows)


@api_route(blueprint, "/token/search", ["GET"], role=ROLE_COMMON, query=SearchPageQuery,
           response=MANY, summary="The caller's tokens whose name starts with keyword")
async def search_tokens(me: Principal, query: dict[str, Any]) -> Any:
    rows = await store.search_tokens(app_state().database, me.id, query["keyword"],
                                     offset=query["p"] * query["size"], limit=query["size"])
    return TOKENS_OUT.dump(rows)


@api_route(blueprint, "/token/<int:id>", ["GET"], role=ROLE_COMMON, response=ONE,
           summary="One of the caller's tokens")
async def get_token(me: Principal, id: int) -> Any:
    return TOKEN_OUT.dump(await store.get_token(app_state().database, me.id, id))


@api_route(blueprint, "/token", ["POST"], role=ROLE_COMMON, body=TokenCreate, response=ONE,
           summary="Create a token with a freshly generated key")
async def create_token(me: Principal, body: dict[str, Any]) -> Any:
    row = await store.create_token(app_state().database, me.id, body)
    invalidate.token_changed(row.key)
    return TOKEN_OUT.dump(row)


@api_route(blueprint, "/token", ["PUT"], role=ROLE_COMMON, body=TokenUpdate,
           query=TokenUpdateQuery, response=ONE,
           summary="Update one of the caller's tokens (or only its status)")
async def update_token(me: Principal, body: dict[str, Any], query: dict[str, Any]) -> Any:
    status: int | None = body.get("status")
    if query["status_only"]:
        if status is None:
            raise ApiError("invalid parameters: status: Missing data for required field.")
        values: dict[str, Any] = {}
    else:
        values = body
    row = await store.update_token(app_state().database, me.id, body["id"], values, status)
    invalidate.token_changed(row.key)
    return TOKEN_OUT.dump(row)


@api_route(blueprint, "/token/<int:id>", ["DELETE"], role=ROLE_COMMON,
           summary="Delete one of the caller's tokens")
async def delete_token(me: Principal, id: int) -> Any:
    key = await store.delete_token(app_state().database, me.id, id)
    invalidate.token_changed(key)
    return None
