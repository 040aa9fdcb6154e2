"""/api routes: channels (spec 1.5.4, 5.7, 5.8) and the channel editor's model map
(``GET /api/models``, spec 1.5.1). Keys never leave the server."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response

from oneapi import channels
from oneapi.admin import invalidate
from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_ADMIN, ROLE_COMMON
from oneapi.admin.channels_schemas import (
    BALANCE_REPLY,
    CATALOGUE_REPLY,
    TEST_REPLY,
    ChannelCreate,
    ChannelUpdate,
    PageQuery,
    SearchQuery,
    TestAllQuery,
    TestQuery,
)
from oneapi.errors import ApiError
from oneapi.relay import catalog
from oneapi.state import app_state
from oneapi.store import channels as store

blueprint = Blueprint("channels", __name__, url_prefix="/api")

# JSON object keys are strings: the type ids as the reference's encoder writes them.
_MODELS_BY_TYPE = {str(type_id): models for type_id, models in catalog.models_by_type().items()}
MAX_ID = 2**63 - 1
_CATALOGUE = orjson.dumps({"object": "list", "data": catalog.full_catalogue()})


def _checked(channel_id: int) -> int:
    """A path id the database can hold (werkzeug's int converter takes any size)."""
    if channel_id > MAX_ID:
        raise ApiError(store.NOT_FOUND)
    return channel_id


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), content_type="application/json")


@api_route(blueprint, "/models", ["GET"], role=ROLE_COMMON, tag="channels",
           summary="Default model list of every channel type (type id -> models)")
async def dashboard_models() -> Any:
    return _MODELS_BY_TYPE


@api_route(blueprint, "/channel", ["GET"], role=ROLE_ADMIN, query=PageQuery,
           summary="List channels, newest first (keys are never returned)")
async def list_channels(query: dict[str, Any]) -> Any:
    size: int = query["size"]
    return await store.list_channels(app_state().database, max(query["p"], 0) * size, size)


@api_route(blueprint, "/channel/search", ["GET"], role=ROLE_ADMIN, query=SearchQuery,
           summary="Find channels by id or name prefix")
async def search_channels(query: dict[str, Any]) -> Any:
    return await store.search_channels(app_state().database, query["keyword"])


@api_route(blueprint, "/channel/models", ["GET"], role=ROLE_ADMIN, response=CATALOGUE_REPLY,
           summary="The built-in model catalogue (not enveloped)")
async def channel_models() -> Any:
    return Response(_CATALOGUE, content_type="application/json")


@api_route(blueprint, "/channel/<int:id>", ["GET"], role=ROLE_ADMIN,
           summary="One channel (without its key)")
async def get_channel(id: int) -> Any:
    channel = await store.get_channel(app_state().database, _checked(id))
    if channel is None:
        raise ApiError(store.NOT_FOUND)
    return channel


@api_route(blueprint, "/channel", ["POST"], role=ROLE_ADMIN, body=ChannelCreate,
           summary="Create channels: one per line of `key`; data = their ids")
async def create_channel(body: dict[str, Any]) -> Any:
    keys = body.pop("keys")
    ids = await store.create_channels(app_state().database, body, keys)
    await invalidate.channels_changed()
    return ids


@api_route(blueprint, "/channel", ["PUT"], role=ROLE_ADMIN, body=ChannelUpdate,
           summary="Update the fields given (a 0 or empty value is written too)")
async def update_channel(body: dict[str, Any]) -> Any:
    channel_id = body.pop("id")
    channel = await store.update_channel(app_state().database, channel_id, body)
    if channel is None:
        raise ApiError(store.NOT_FOUND)
    await invalidate.channels_changed()
    return channel


@api_route(blueprint, "/channel/disabled", ["DELETE"], role=ROLE_ADMIN,
           summary="Delete every disabled channel; data = how many")
async def delete_disabled_channels() -> Any:
    count = await store.delete_disabled(app_state().database)
    if count:
        await invalidate.channels_changed()
    return count


@api_route(blueprint, "/channel/<int:id>", ["DELETE"], role=ROLE_ADMIN,
           summary="Delete a channel and its abilities")
async def delete_channel(id: int) -> Any:
    if not await store.delete_channel(app_state().database, _checked(id)):
        raise ApiError(store.NOT_FOUND)
    await invalidate.channels_changed()
    return None


@api_route(blueprint, "/channel/test", ["GET"], role=ROLE_ADMIN, query=TestAllQuery,
           summary="Start testing all (or all disabled) channels in the background")
async def test_all_channels(query: dict[str, Any]) -> Any:
    try:
        channels.start_test_all(query["scope"] or "all")
    except channels.TestsAlreadyRunning:
        raise ApiError(channels.ALREADY_RUNNING) from None
    return None


@api_route(blueprint, "/channel/test/<int:id>", ["GET"], role=ROLE_ADMIN, query=TestQuery,
           response=TEST_REPLY, summary="Test one channel now (no quota is charged)")
async def test_channel(id: int, query: dict[str, Any]) -> Any:
    result = await channels.test_channel(_checked(id), query["model"])
    if result is None:
        raise ApiError(store.NOT_FOUND)
    seconds = result.elapsed_ms / 1000 if result.ok else 0.0
    return _json({"success": result.ok, "message": result.message, "time": seconds,
                  "modelName": query["model"]})


@api_route(blueprint, "/channel/update_balance", ["GET"], role=ROLE_ADMIN,
           summary="Update the balance of every enabled channel; data = counts")
async def update_all_balances() -> Any:
    report = await channels.update_all_balances()
    return {"updated": report.updated, "failed": report.failed, "skipped": report.skipped}


@api_route(blueprint, "/channel/update_balance/<int:id>", ["GET"], role=ROLE_ADMIN,
           response=BALANCE_REPLY, summary="Query and store one channel's balance")
async def update_balance(id: int) -> Any:
    try:
        balance = await channels.update_balance(_checked(id))
    except channels.BalanceError as exc:
        raise ApiError(str(exc)) from None
    if balance is None:
        raise ApiError(store.NOT_FOUND)
    return _json({"success": True, "message": "", "balance": balance})
