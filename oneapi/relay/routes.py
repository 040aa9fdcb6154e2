"""/v1 routes and the OpenAI-style billing routes: parse, call the relay, reply."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response, request

from oneapi.middleware import REQUEST_ID, client_ip
from oneapi.relay import catalog
from oneapi.relay.auth import Caller
from oneapi.relay.modes import Mode
from oneapi.relay.service import Incoming, Relay
from oneapi.state import app_state

blueprint = Blueprint("relay", __name__, url_prefix="/v1")
billing = Blueprint("billing", __name__)

_MODES = {
    "chat/completions": Mode.CHAT,
    "completions": Mode.COMPLETIONS,
    "edits": Mode.EDITS,
    "embeddings": Mode.EMBEDDINGS,
    "moderations": Mode.MODERATIONS,
    "images/generations": Mode.IMAGES,
    "audio/speech": Mode.AUDIO_SPEECH,
    "audio/transcriptions": Mode.AUDIO_TRANSCRIPTION,
    "audio/translations": Mode.AUDIO_TRANSLATION,
}


def _relay() -> Relay:
    relay = app_state().relay
    assert relay is not None, "the relay starts with the app"
    return relay


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, content_type="application/json")


async def _relay_call(mode: Mode, path_model: str = "") -> Response:
    scope = request.scope
    query = scope.get("query_string", b"")
    path = scope["path"] + ("?" + query.decode("latin-1") if query else "")
    authorization = content_type = accept = ""
    for name, value in scope["headers"]:  # one pass over the raw headers
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"accept":
            accept = value.decode("latin-1")
    body = await request.get_data()
    assert isinstance(body, bytes)
    incoming = Incoming(
        mode=mode, path=path, authorization=authorization,
        headers={"accept": accept} if accept else {}, body=body, content_type=content_type,
        ip=client_ip(scope), request_id=str(scope.get(REQUEST_ID, "")), path_model=path_model,
    )
    return await _relay().handle(incoming)


def _route(path: str, mode: Mode) -> None:
    async def view() -> Response:
        return await _relay_call(mode)

    view.__name__ = "relay_" + path.replace("/", "_")
    blueprint.post("/" + path)(view)


for _path, _mode in _MODES.items():
    _route(_path, _mode)


@blueprint.post("/engines/<path:model>/embeddings")
async def engine_embeddings(model: str) -> Response:
    return await _relay_call(Mode.EMBEDDINGS, path_model=model)


@blueprint.route("/oneapi/proxy/<channel_id>/<path:rest>",
                 methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def raw_proxy(channel_id: str, rest: str) -> Response:
    scope = request.scope
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    body = await request.get_data()
    assert isinstance(body, bytes)
    return await _relay().proxy(
        method=request.method, channel_id=channel_id, rest=rest,
        query=scope.get("query_string", b"").decode("latin-1"), headers=headers, body=body,
        authorization=request.headers.get("Authorization", ""), ip=client_ip(scope),
        request_id=str(scope.get(REQUEST_ID, "")))


async def _caller() -> Caller:
    return await _relay().caller(request.headers.get("Authorization", ""),
                                 client_ip(request.scope))


def _visible_models(caller: Caller) -> list[str]:
    if caller.token.models is not None:
        return [m for m in caller.token.models_raw.split(",") if m]
    return _relay().cache.routes.models_for_group(caller.user.group)


@blueprint.get("/models")
async def list_models() -> Response:
    caller = await _caller()
    return _json({"object": "list", "data": catalog.list_models(_visible_models(caller))})


@blueprint.get("/models/<path:model>")
async def retrieve_model(model: str) -> Response:
    await _caller()
    entry = catalog.catalogue_entry(model)
    if entry is None:
        # HTTP 200 with an error object: what the reference (and OpenAI's old API) sends.
        return _json({"error": {"message": f"The model '{model}' does not exist",
                                "type": "invalid_request_error", "param": "model",
                                "code": "model_not_found"}})
    return _json(entry)


# OpenAI endpoints the gateway does not relay: authenticated, then 501.
_NOT_IMPLEMENTED = [
    ("/models/<path:model>", ["DELETE"]),
    ("/images/edits", ["POST"]),
    ("/images/variations", ["POST"]),
    ("/files", ["GET", "POST"]),
    ("/files/<path:rest>", ["GET", "DELETE"]),
    ("/fine_tuning/jobs", ["GET", "POST"]),
    ("/fine_tuning/jobs/<path:rest>", ["GET", "POST"]),
    ("/assistants", ["GET", "POST"]),
    ("/assistants/<path:rest>", ["GET", "POST", "DELETE"]),
    ("/threads", ["POST"]),
    ("/threads/<path:rest>", ["GET", "POST", "DELETE"]),
]


async def not_implemented(**_: str) -> Response:
    await _caller()
    return _json({"error": {"message": "API not implemented", "type": "one_api_error",
                            "param": "", "code": "api_not_implemented"}}, 501)


for _rule, _methods in _NOT_IMPLEMENTED:
    blueprint.add_url_rule(_rule, "not_implemented_" + _rule, not_implemented, methods=_methods)


# --- /dashboard/billing (spec 1.4): balances for ChatGPT-Next-Web and friends ----------------
UNLIMITED_AMOUNT = 100_000_000.0


def _in_currency(quota: float) -> float:
    options = app_state().options
    if options.bool("DisplayInCurrencyEnabled"):
        return quota / options.float("QuotaPerUnit")
    return quota


@billing.get("/dashboard/billing/subscription")
@billing.get("/v1/dashboard/billing/subscription")
async def subscription() -> Response:
    caller = await _caller()
    token = caller.token
    until = 0
    if app_state().options.bool("DisplayTokenStatEnabled"):
        amount = _in_currency(float(token.remain_quota + token.used_quota))
        until = max(token.expired_time, 0)
        if token.unlimited_quota:
            amount = UNLIMITED_AMOUNT
    else:
        amount = _in_currency(float(caller.user.quota))
    return _json({"object": "billing_subscription", "has_payment_method": True,
                  "soft_limit_usd": amount, "hard_limit_usd": amount,
                  "system_hard_limit_usd": amount, "access_until": until})


@billing.get("/dashboard/billing/usage")
@billing.get("/v1/dashboard/billing/usage")
async def usage() -> Response:
    caller = await _caller()
    if app_state().options.bool("DisplayTokenStatEnabled"):
        used = caller.token.used_quota
    else:
        used = caller.user.used_quota
    return _json({"object": "list", "total_usage": _in_currency(float(used)) * 100})
