"""``api_route``: declare an /api route once - auth level, query and body
schemas, summary - and get validation, the envelope, and its OpenAPI entry.

    @api_route(bp, "/token", ["POST"], role=ROLE_COMMON, body=TokenCreate,
               summary="Create a token")
    async def create_token(me: Principal, body: dict) -> Any:
        return await tokens.create(me.id, body)     # -> {"success": true, "data": ...}

A view returns plain data (wrapped in the envelope), or a Response when it
must answer in another shape; it raises ApiError to refuse.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import EXCLUDE, Schema, ValidationError
from quart import Blueprint, Response, request

from oneapi import __version__
from oneapi.admin.auth import require
from oneapi.admin.replies import envelope
from oneapi.errors import ApiError
from oneapi.middleware import client_ip
from oneapi.state import app_state

ROLE_NAMES = {None: "public", 1: "user", 10: "admin", 100: "root"}

SPEC = APISpec(
    title="One API management API",
    version=__version__,
    openapi_version="3.0.3",
    plugins=[MarshmallowPlugin()],
    info={"description": "Every /api route of the gateway. Replies are "
                         "`{success, message, data}`; HTTP 200 unless stated."},
)
SPEC.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                            "name": "session"})
SPEC.components.security_scheme("accessToken", {"type": "apiKey", "in": "header",
                                                "name": "Authorization"})
SPEC.components.schema("Envelope", {"type": "object", "required": ["success", "message"],
                                    "properties": {"success": {"type": "boolean"},
                                                   "message": {"type": "string"},
                                                   "data": {}}})

ENVELOPE_REF = {"$ref": "#/components/schemas/Envelope"}
View = Callable[..., Awaitable[Any]]
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
# <int:...> path parameters are ids: never negative (werkzeug would answer 404), 64-bit.
MAX_PATH_INT = 2**63 - 1
INT_PATH_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INT}


def validation_message(err: ValidationError) -> str:
    messages = err.messages
    if isinstance(messages, dict):
        parts = []
        for name, problems in messages.items():
            text = problems if isinstance(problems, str) else "; ".join(
                str(p) for p in (problems if isinstance(problems, list) else [problems]))
            parts.append(f"{name}: {text}" if name != "_schema" else text)
        return "; ".join(parts)
    return "; ".join(str(m) for m in messages)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def load(schema: Schema, data: Any) -> Any:
    # PostgreSQL cannot store NUL in text; refuse it for every route in one place.
    if _has_nul(data):
        raise ApiError("invalid parameters: text must not contain NUL characters")
    try:
        return schema.load(data, unknown=EXCLUDE)
    except ValidationError as err:
        raise ApiError(f"invalid parameters: {validation_message(err)}") from None


async def json_body() -> Any:
    raw = await request.get_data()
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"invalid JSON body: {exc}") from None


def api_route(bp: Blueprint, rule: str, methods: list[str] | None = None, *,
              role: int | None, body: type[Schema] | Schema | None = None,
              query: type[Schema] | Schema | None = None, summary: str = "",
              critical: bool = False, tag: str | None = None,
              response: dict[str, Any] | None = None,
              responses: dict[str, Any] | None = None) -> Callable[[View], View]:
    methods = methods or ["GET"]
    body_schema = body() if isinstance(body, type) else body
    query_schema = query() if isinstance(query, type) else query

    def decorator(view: View) -> View:
        wants = set(inspect.signature(view).parameters)

        async def endpoint(**path_args: Any) -> Response:
            if critical:
                limits = app_state().rate_limits
                if limits is not None and not await limits.critical.allow(client_ip(request.scope)):
                    return Response(b"", status=429)
            kwargs: dict[str, Any] = dict(path_args)
            principal = await require(role) if role is not None else None
            if "me" in wants:
                kwargs["me"] = principal
            if query_schema is not None:
                kwargs["query"] = load(query_schema, request.args.to_dict())
            if body_schema is not None:
                data = await json_body()
                if not isinstance(data, dict):
                    raise ApiError("invalid parameters: the body must be a JSON object")
                kwargs["body"] = load(body_schema, data)
            result = await view(**kwargs)
            return result if isinstance(result, Response) else envelope(result)

        endpoint.__name__ = view.__name__
        endpoint.__doc__ = view.__doc__
        bp.add_url_rule(rule, view.__name__, endpoint, methods=methods)
        _document(bp, rule, methods, role, body_schema, query_schema,
                  summary or (view.__doc__ or view.__name__).strip().splitlines()[0],
                  tag or bp.name, response, responses)
        return view

    return decorator


def _document(bp: Blueprint, rule: str, methods: list[str], role: int | None,
              body: Schema | None, query: Schema | None, summary: str, tag: str,
              response: dict[str, Any] | None,
              responses: dict[str, Any] | None = None) -> None:
    prefix = bp.url_prefix or ""
    params = [{"in": "path", "name": name, "required": True,
               "schema": dict(INT_PATH_SCHEMA) if conv == "int" else {"type": "string"}}
              for conv, name in _CONVERTER.findall(rule)]
    path = _CONVERTER.sub(r"{\2}", prefix + rule)
    operations: dict[str, Any] = {}
    for method in methods:
        op: dict[str, Any] = {
            "summary": summary,
            "tags": [tag],
            "description": f"Auth: {ROLE_NAMES.get(role, str(role))}.",
            "responses": {"200": {"description": "The envelope.", "content": {
                "application/json": {"schema": response or ENVELOPE_REF}}}},
        }
        if role is not None:
            op["security"] = [{"session": []}, {"accessToken": []}]
            op["responses"]["401"] = {"description": "Neither a session nor an access token."}
        # Other statuses a route answers with (e.g. {"403": {"description": ...}}).
        op["responses"].update(responses or {})
        parameters = list(params)
        if query is not None:
            parameters.append({"in": "query", "schema": query})
        if parameters:
            op["parameters"] = parameters
        if body is not None and method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": body}}}
        operations[method.lower()] = op
    SPEC.path(path=path, operations=operations)


def openapi_document() -> dict[str, Any]:
    return SPEC.to_dict()
