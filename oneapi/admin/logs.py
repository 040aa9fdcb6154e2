"""/api/log: usage and event logs (spec 1.5.6), read from the log database.

Admins see and prune every log; a user sees only their own (by user id).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_ADMIN, ROLE_COMMON, Principal
from oneapi.admin.logs_schemas import (
    LOGS_OUT,
    LogDeleteQuery,
    LogOut,
    LogQuery,
    LogSearchQuery,
    LogStatOut,
    LogStatQuery,
    SelfLogQuery,
    SelfLogStatQuery,
)
from oneapi.admin.tokens_schemas import data_response
from oneapi.errors import ApiError
from oneapi.state import app_state
from oneapi.store import logqueries as store

blueprint = Blueprint("logs", __name__, url_prefix="/api")

MANY = data_response(LogOut, many=True)
STAT = data_response(LogStatOut)
COUNT = data_response({"type": "integer"})


@api_route(blueprint, "/log", ["GET"], role=ROLE_ADMIN, query=LogQuery, response=MANY,
           summary="All logs, filtered, newest first")
async def list_logs(query: dict[str, Any]) -> Any:
    rows = await store.list_logs(app_state().database, store.log_filter(query),
                                 offset=query["p"] * query["size"], limit=query["size"])
    return LOGS_OUT.dump(rows)


@api_route(blueprint, "/log", ["DELETE"], role=ROLE_ADMIN, query=LogDeleteQuery,
           response=COUNT, summary="Delete the logs created before target_timestamp")
async def delete_logs(query: dict[str, Any]) -> Any:
    if not query["target_timestamp"]:
        raise ApiError("target timestamp is required")
    return await store.delete_before(app_state().database, query["target_timestamp"])


@api_route(blueprint, "/log/stat", ["GET"], role=ROLE_ADMIN, query=LogStatQuery,
           response=STAT, summary="Quota used by the consume logs matching the filters")
async def log_stat(query: dict[str, Any]) -> Any:
    return {"quota": await store.consumed_quota(app_state().database,
                                                store.log_filter(query))}


@api_route(blueprint, "/log/search", ["GET"], role=ROLE_ADMIN, query=LogSearchQuery,
           response=MANY, summary="The newest 100 logs of type keyword or starting with it")
async def search_logs(query: dict[str, Any]) -> Any:
    return LOGS_OUT.dump(await store.search_all(app_state().database, query["keyword"]))


@api_route(blueprint, "/log/self", ["GET"], role=ROLE_COMMON, query=SelfLogQuery,
           response=MANY, summary="The caller's logs, filtered, newest first")
async def list_own_logs(me: Principal, query: dict[str, Any]) -> Any:
    rows = await store.list_logs(app_state().database, store.log_filter(query, user_id=me.id),
                                 offset=query["p"] * query["size"], limit=query["size"])
    return LOGS_OUT.dump(rows)


@api_route(blueprint, "/log/self/stat", ["GET"], role=ROLE_COMMON, query=SelfLogStatQuery,
           response=STAT, summary="Quota used by the caller's consume logs matching the filters")
async def own_log_stat(me: Principal, query: dict[str, Any]) -> Any:
    return {"quota": await store.consumed_quota(app_state().database,
                                                store.log_filter(query, user_id=me.id))}


@api_route(blueprint, "/log/self/search", ["GET"], role=ROLE_COMMON, query=LogSearchQuery,
           response=MANY, summary="The caller's newest 100 logs of type keyword")
async def search_own_logs(me: Principal, query: dict[str, Any]) -> Any:
    return LOGS_OUT.dump(await store.search_user(app_state().database, me.id,
                                                 query["keyword"]))
