"""Fake identity providers and web hooks the account flows talk to: GitHub, Lark,
an OIDC provider, a WeChat Server, Cloudflare Turnstile and Message Pusher - one
aiohttp server on 127.0.0.1 in a background thread (like tests/fakes/upstream.py).

    with FakeProviders() as fake:
        monkeypatch.setenv("ONEAPI_GITHUB_OAUTH_URL", fake.url("/github/login/oauth/access_token"))
        ... (fake.env() gives every environment variable at once)
        code = fake.github_code(login="octocat", name="Octo", email="o@example.com")
        # GET /api/oauth/github?code=<code>&state=... now signs in "octocat"

Codes are single use, as at the real providers. Client credentials are checked
against ``CLIENT_ID`` / ``CLIENT_SECRET`` (and ``WECHAT_TOKEN``, ``PUSHER_TOKEN``,
``TURNSTILE_SECRET``). Every request is recorded in ``fake.requests``.

Routes:
  POST /github/login/oauth/access_token   GET /github/user
  POST /lark/token                        GET /lark/userinfo
  POST /oidc/token                        GET /oidc/userinfo
  GET  /wechat/api/wechat/user?code=      (Authorization: WECHAT_TOKEN)
  POST /turnstile/siteverify              (form: secret, response, remoteip)
  POST /pusher                            (JSON: title, description, content, token...)
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
WECHAT_TOKEN = "fake-wechat-token"
PUSHER_TOKEN = "fake-pusher-token"
TURNSTILE_SECRET = "fake-turnstile-secret"
TURNSTILE_PASS = "turnstile-ok"  # a token the fake accepts (any other fails)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)


class FakeProviders:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._codes: dict[tuple[str, str], dict[str, Any]] = {}  # (provider, code) -> user
        self._tokens: dict[tuple[str, str], dict[str, Any]] = {}  # (provider, token) -> user
        self._wechat: dict[str, str] = {}  # code -> wechat id
        self.pusher_ok = True
        self.pushed: list[dict[str, Any]] = []
        self.down: set[str] = set()  # providers answering HTTP 502 with garbage
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ control
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def env(self) -> dict[str, str]:
        """Environment variables pointing the gateway's fixed endpoints here."""
        return {
            "ONEAPI_GITHUB_OAUTH_URL": self.url("/github/login/oauth/access_token"),
            "ONEAPI_GITHUB_API_URL": self.url("/github/user"),
            "ONEAPI_LARK_OAUTH_URL": self.url("/lark/token"),
            "ONEAPI_LARK_USERINFO_URL": self.url("/lark/userinfo"),
            "ONEAPI_TURNSTILE_VERIFY_URL": self.url("/turnstile/siteverify"),
        }

    def options(self) -> dict[str, str]:
        """Gateway options for every provider (all switched on)."""
        return {
            "GitHubOAuthEnabled": "true", "GitHubClientId": CLIENT_ID,
            "GitHubClientSecret": CLIENT_SECRET,
            "LarkClientId": CLIENT_ID, "LarkClientSecret": CLIENT_SECRET,
            "OidcEnabled": "true", "OidcClientId": CLIENT_ID, "OidcClientSecret": CLIENT_SECRET,
            "OidcTokenEndpoint": self.url("/oidc/token"),
            "OidcUserinfoEndpoint": self.url("/oidc/userinfo"),
            "WeChatAuthEnabled": "true", "WeChatServerAddress": self.url("/wechat"),
            "WeChatServerToken": WECHAT_TOKEN,
        }

    def _code(self, provider: str, user: dict[str, Any]) -> str:
        code = f"{provider}-code-{next(self._ids)}-{secrets.token_hex(4)}"
        with self.lock:
            self._codes[(provider, code)] = user
        return code

    def github_code(self, login: str, name: str = "", email: str = "") -> str:
        return self._code("github", {"login": login, "id": next(self._ids), "name": name or None,
                                     "email": email or None})

    def lark_code(self, open_id: str, name: str = "") -> str:
        return self._code("lark", {"open_id": open_id, "name": name, "union_id": "u-" + open_id})

    def oidc_code(self, sub: str, name: str = "", email: str = "",
                  preferred_username: str = "") -> str:
        return self._code("oidc", {"sub": sub, "name": name, "email": email,
                                   "preferred_username": preferred_username})

    def wechat_code(self, wechat_id: str) -> str:
        code = f"{next(self._ids):06d}"
        with self.lock:
            self._wechat[code] = wechat_id
        return code

    def recorded(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    # --------------------------------------------------------------- lifecycle
    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/github/login/oauth/access_token", self._github_token)
        app.router.add_get("/github/user", self._github_user)
        app.router.add_post("/lark/token", self._lark_token)
        app.router.add_get("/lark/userinfo", self._lark_user)
        app.router.add_post("/oidc/token", self._oidc_token)
        app.router.add_get("/oidc/userinfo", self._oidc_user)
        app.router.add_get("/wechat/api/wechat/user", self._wechat_user)
        app.router.add_post("/turnstile/siteverify", self._turnstile)
        app.router.add_post("/pusher", self._pusher)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def start(self) -> FakeProviders:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-providers", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake providers did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- handlers
    async def _record(self, request: web.Request) -> Recorded:
        rec = Recorded(request.method, request.path, dict(request.query),
                       dict(request.headers))
        if request.content_type == "application/json":
            rec.json = await request.json()
        elif request.content_type == "application/x-www-form-urlencoded":
            rec.form = {k: str(v) for k, v in (await request.post()).items()}
        with self.lock:
            self.requests.append(rec)
        return rec

    def _take_code(self, provider: str, code: Any) -> dict[str, Any] | None:
        with self.lock:
            return self._codes.pop((provider, str(code)), None)

    async def _token(self, provider: str, request: web.Request) -> web.Response:
        rec = await self._record(request)
        if provider in self.down:
            return web.Response(status=502, text="<html>bad gateway</html>")
        body = rec.json if isinstance(rec.json, dict) else {}
        if body.get("client_id") != CLIENT_ID or body.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "bad client credentials"},
                                     status=200 if provider == "github" else 401)
        if provider != "github" and body.get("grant_type") != "authorization_code":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        user = self._take_code(provider, body.get("code"))
        if user is None:
            # GitHub answers 200 with an error object; the others 400.
            return web.json_response({"error": "bad_verification_code",
                                      "error_description": "The code passed is incorrect "
                                                           "or expired."},
                                     status=200 if provider == "github" else 400)
        token = f"{provider}-token-{secrets.token_hex(8)}"
        with self.lock:
            self._tokens[(provider, token)] = user
        reply: dict[str, Any] = {"access_token": token, "token_type": "bearer", "scope": ""}
        if provider == "lark":
            reply = {"code": 0, "access_token": token, "expires_in": 7200,
                     "token_type": "Bearer"}
        return web.json_response(reply)

    async def _user(self, provider: str, request: web.Request) -> web.Response:
        await self._record(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.lock:
            user = self._tokens.get((provider, token))
        if user is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response(user)

    async def _github_token(self, request: web.Request) -> web.Response:
        return await self._token("github", request)

    async def _github_user(self, request: web.Request) -> web.Response:
        return await self._user("github", request)

    async def _lark_token(self, request: web.Request) -> web.Response:
        return await self._token("lark", request)

    async def _lark_user(self, request: web.Request) -> web.Response:
        return await self._user("lark", request)

    async def _oidc_token(self, request: web.Request) -> web.Response:
        return await self._token("oidc", request)

    async def _oidc_user(self, request: web.Request) -> web.Response:
        return await self._user("oidc", request)

    async def _wechat_user(self, request: web.Request) -> web.Response:
        await self._record(request)
        if request.headers.get("Authorization") != WECHAT_TOKEN:
            return web.json_response({"success": False, "message": "无权进行此操作"})
        with self.lock:
            wechat_id = self._wechat.pop(request.query.get("code", ""), None)
        if wechat_id is None:
            return web.json_response({"success": True, "message": "", "data": ""})
        return web.json_response({"success": True, "message": "", "data": wechat_id})

    async def _turnstile(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        ok = (rec.form.get("secret") == TURNSTILE_SECRET
              and rec.form.get("response") == TURNSTILE_PASS)
        return web.json_response({"success": ok, "error-codes": [] if ok else
                                  ["invalid-input-response"]})

    async def _pusher(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        body = rec.json if isinstance(rec.json, dict) else {}
        if not self.pusher_ok:
            return web.json_response({"success": False, "message": "pusher is down"})
        if body.get("token") != PUSHER_TOKEN:
            return web.json_response({"success": False, "message": "无效的 token"})
        with self.lock:
            self.pushed.append(body)
        return web.json_response({"success": True, "message": "ok"})
