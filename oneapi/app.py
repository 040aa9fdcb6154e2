"""create_app(settings): blueprints, error mapping, lifecycle."""

from __future__ import annotations

import gc
import logging
from typing import Any

import orjson
from quart import Quart, Response, request
from quart.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from oneapi.admin import (
    accounts,
    channels,
    logs,
    options,
    redemptions,
    system,
    tokens,
    users,
)
from oneapi.admin.api import openapi_document
from oneapi.admin.auth import init_auth
from oneapi.admin.ratelimit import RateLimits
from oneapi.db.engine import Database
from oneapi.errors import ApiError, RelayError
from oneapi.metrics import blueprint as metrics_blueprint
from oneapi.metrics import observe_inflight, observe_request, start_metrics
from oneapi.middleware import ORIGINAL_PATH, REQUEST_ID, GatewayMiddleware
from oneapi.options import Options, default_options
from oneapi.relay.routes import billing as billing_blueprint
from oneapi.relay.routes import blueprint as relay_blueprint
from oneapi.relay.sessions import NoRelaySessionInterface
from oneapi.relay.setup import journalled_before_reply, start_relay
from oneapi.settings import Settings
from oneapi.state import EXTENSION, AppState
from oneapi.web.routes import blueprint as web_blueprint
from oneapi.web.routes import is_api_path

log = logging.getLogger("oneapi.app")


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status=status, content_type="application/json")


def request_id() -> str:
    return str(request.scope.get(REQUEST_ID, ""))


def create_app(settings: Settings) -> Quart:
    app = Quart("oneapi")
    app.json = OrjsonProvider(app)
    app.session_interface = NoRelaySessionInterface()  # no cookie session work on /v1
    app.config.update(
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        # Bodies get their deadline in the ASGI layer (only when they arrive in
        # pieces): Quart's own would wrap every body read in a task and a timer.
        BODY_TIMEOUT=None,
        RESPONSE_TIMEOUT=None,  # streams last as long as the upstream does
    )
    state = AppState(settings=settings, options=Options(default_options(settings.theme)))
    app.extensions[EXTENSION] = state

    for module in (system, users, accounts, tokens, redemptions, channels, logs, options):
        app.register_blueprint(module.blueprint)
    init_auth(app, settings.session_cookie_secure,
              [m.blueprint.name for m in (system, users, accounts, tokens, redemptions, channels,
                                          logs, options)])

    @app.get("/api/openapi.json")
    async def openapi() -> Response:
        return _json(openapi_document(), 200)
    app.register_blueprint(relay_blueprint)
    app.register_blueprint(billing_blueprint)
    app.register_blueprint(metrics_blueprint)
    app.register_blueprint(web_blueprint)  # last: its catch-all serves client routes

    @app.before_serving
    async def open_resources() -> None:
        state.db = Database.from_settings(settings)
        async with state.db.session() as session:
            await state.options.load(session)
        # Sessions are signed with SESSION_SECRET, else with the secret the master
        # stored in the database, so every worker and node accepts every cookie.
        app.secret_key = settings.session_secret or state.options.get("SessionSecret")
        if settings.redis_enabled:
            # One client per worker, shared by the event bus, the rate limits and
            # the verification codes; closed last at shutdown.
            from oneapi.cache.redis import make_redis  # redis-py only when configured

            state.redis = make_redis(settings)
            state.on_shutdown("redis", state.redis.aclose)
        state.rate_limits = RateLimits.from_settings(
            settings.global_api_rate_limit, settings.global_web_rate_limit, settings.debug,
            redis=state.redis)
        gateway.limits = state.rate_limits
        await start_relay(state)
        if settings.is_master:
            # Channel tests, balance updates, log retention: one node at a time.
            from oneapi.tasks.scheduler import start_scheduler

            start_scheduler(state, app)
        start_metrics(state)
        # Everything loaded so far lives as long as the worker: keep it out of the
        # cyclic GC, whose full passes over it took ~130 ms each (~5% of relay CPU).
        # (No gc.collect() first: start-up garbage is small, and tests start many apps.)
        gc.freeze()

    @app.after_request
    async def journal_before_reply(response: Response) -> Response:
        if (state.redis is not None and state.relay is not None
                and request.blueprint == relay_blueprint.name):
            return await journalled_before_reply(response, state.relay.writer)
        return response

    @app.after_serving
    async def close_resources() -> None:
        await state.shutdown()
        gc.unfreeze()  # an app created again in this process (tests) starts afresh

    @app.errorhandler(RelayError)
    async def relay_error(exc: RelayError) -> Response:
        return _json(exc.body(request_id()), exc.status)

    @app.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> Response:
        return _json(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        path = str(request.scope.get(ORIGINAL_PATH, request.path))
        status = exc.code or 500
        if status in (404, 405):
            # The reference answers a wrong method as not found, never 405.
            if is_api_path(path):
                return _json({"error": {"message": f"Invalid URL ({request.method} {path})",
                                        "type": "invalid_request_error", "param": "",
                                        "code": ""}}, 404)
            return Response("Not Found", status=404)
        if path.startswith("/v1/"):
            return _json(RelayError(status, exc.description or exc.name,
                                    type="invalid_request_error").body(request_id()), status)
        if path.startswith("/api/"):
            return _json(ApiError(exc.description or exc.name).body(), status)
        return Response(exc.name, status=status)

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        rid = request_id()
        log.exception("unhandled error in %s %s (request id %s)", request.method,
                      request.path, rid)
        path = request.path
        if path.startswith("/api/"):
            return _json(ApiError(f"internal error (request id: {rid})").body(), 500)
        return _json(RelayError(500, "internal error").body(rid), 500)

    # Quart's ASGI signature is narrower than the plain-dict one the middleware uses.
    gateway = GatewayMiddleware(app.asgi_app,  # type: ignore[arg-type]
                                observe_request, inflight=observe_inflight)
    app.asgi_app = gateway  # type: ignore[method-assign,assignment]
    return app
