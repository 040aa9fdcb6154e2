"""A route x role matrix driven by the OpenAPI document (GET /api/openapi.json):
every documented operation is called as anonymous, with a bad access token, with
a role one below its level and as a disabled user - so a new route is covered as
soon as it is declared with ``api_route``. The document itself must list every
/api rule the app registers, and no reply anywhere (refusals, and the allowed
calls of a second pass) may contain another user's access token.

Each check loops over all operations in one app (one fixture start) and reports
every failing operation at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from oneapi.admin.auth import BAD_ACCESS_TOKEN, BANNED, FORBIDDEN, NOT_LOGGED_IN
from oneapi.db.engine import Database
from oneapi.db.models import Token, User
from oneapi.security import generate_api_key, uuid_hex
from oneapi.state import EXTENSION, AppState
from tests.api_support import Api

ROLES = {"user": 1, "admin": 10, "root": 100}
ROLE_BELOW = {"user": 0, "admin": 1, "root": 10}  # 0: a guest (below a common user)
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
# Routes that end the caller's own credential: run last in the allowed pass.
SELF_ENDING = {("GET", "/api/user/token"), ("GET", "/api/user/logout"),
               ("DELETE", "/api/user/self")}
VICTIM_TOKEN = "victim-access-token-" + "0123456789abcdef"
_AUTH = re.compile(r"^Auth: (\w+)\.")
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the OpenAPI template, e.g. /api/token/{id}
    auth: str  # public | user | admin | root
    has_body: bool
    query_names: tuple[str, ...]

    def url(self, ids: dict[str, int] | None = None) -> str:
        ids = ids or {}
        prefix = self.path.split("{")[0]
        value = next((v for p, v in ids.items() if prefix == p), 1)
        url = _PARAM.sub(str(value), self.path)
        if "keyword" in self.query_names:
            url += "?keyword=victim"
        return url

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.auth})"


# --- helpers ----------------------------------------------------------------------------------
def database(api: Api) -> Database:
    state: AppState = api.app.extensions[EXTENSION]
    return state.database


async def openapi(api: Api) -> dict[str, Any]:
    reply = await api.client().get("/api/openapi.json")
    assert reply.status_code == 200
    doc: dict[str, Any] = await reply.get_json()
    return doc


async def operations(api: Api) -> list[Operation]:
    found = []
    for path, item in (await openapi(api))["paths"].items():
        for method, op in item.items():
            match = _AUTH.match(op.get("description", ""))
            assert match, f"{method.upper()} {path}: no 'Auth: ...' in its description"
            queries = tuple(p.get("name", "") for p in op.get("parameters", [])
                            if p.get("in") == "query")
            # A marshmallow query schema is one parameter; apispec expands it to names.
            found.append(Operation(method.upper(), path, match.group(1),
                                   "requestBody" in op, queries))
    assert {o.auth for o in found} <= {"public", *ROLES}, {o.auth for o in found}
    return sorted(found, key=lambda o: (METHOD_ORDER.get(o.method, 9), o.path))


async def protected(api: Api) -> list[Operation]:
    ops = [o for o in await operations(api) if o.auth != "public"]
    assert len(ops) > 40 and {o.auth for o in ops} == set(ROLES)
    return ops


async def seed_user(api: Api, username: str, *, role: int = 1, status: int = 1,
                    access_token: str | None = None) -> tuple[int, str]:
    token = access_token or uuid_hex()
    async with database(api).session() as s:
        row = User(username=username, password="x", display_name=username, role=role,
                   status=status, access_token=token, quota=10**7, aff_code=None)
        s.add(row)
        await s.commit()
        return row.id, token


async def root_access_token(api: Api) -> str:
    async with database(api).session() as s:
        token = (await s.execute(select(User.access_token).where(User.username == "root"))
                 ).scalar_one()
    assert token
    return str(token)


async def send(api: Api, op: Operation, access_token: str | None,
               ids: dict[str, int] | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": access_token} if access_token is not None else {}
    kwargs: dict[str, Any] = {"json": {}} if op.has_body else {}
    reply = await api.client().open(op.url(ids), method=op.method, headers=headers, **kwargs)
    raw = await reply.get_data(as_text=False)
    assert isinstance(raw, bytes)
    return reply.status_code, raw


def refusal(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


async def expect_all(api: Api, ops: list[Operation], expected: dict[str, Any],
                     status: int, token_of: dict[str, str | None]) -> None:
    """Every op answers `status` with exactly `expected` when called with the
    access token chosen for its auth level (None: anonymous)."""
    wrong = []
    for op in ops:
        code, raw = await send(api, op, token_of[op.auth])
        assert VICTIM_TOKEN.encode() not in raw, f"{op}: leaks the victim's access token"
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw[:200]
        if code != status or body != expected:
            wrong.append(f"{op}: HTTP {code} {body!r}")
    assert not wrong, f"{len(wrong)} of {len(ops)} operations:\n" + "\n".join(wrong)


# --- the document -----------------------------------------------------------------------------
async def test_the_document_lists_every_registered_api_route(api: Api) -> None:
    documented = {(o.method, o.path) for o in await operations(api)}
    registered = set()
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        registered |= {(m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert registered - documented == set(), "registered but not documented"
    assert documented - registered == set(), "documented but not registered"
    # Every non-public operation declares its security schemes and its 401.
    doc = await openapi(api)
    for op in await protected(api):
        entry = doc["paths"][op.path][op.method.lower()]
        assert entry["security"] == [{"session": []}, {"accessToken": []}], op
        assert "401" in entry["responses"], op


# --- the matrix -------------------------------------------------------------------------------
async def test_anonymous_callers_get_401(api: Api) -> None:
    await seed_user(api, "victim", access_token=VICTIM_TOKEN)
    await expect_all(api, await protected(api), refusal(NOT_LOGGED_IN), 401,
                     dict.fromkeys(ROLES))


async def test_a_bad_access_token_is_refused(api: Api) -> None:
    await seed_user(api, "victim", access_token=VICTIM_TOKEN)
    ops = await protected(api)
    await expect_all(api, ops, refusal(BAD_ACCESS_TOKEN), 200,
                     dict.fromkeys(ROLES, "not-a-real-access-token"))
    # A prefix of a real token, or the bare "Bearer " scheme, is no better.
    await expect_all(api, ops, refusal(BAD_ACCESS_TOKEN), 200,
                     dict.fromkeys(ROLES, VICTIM_TOKEN[:-1]))
    await expect_all(api, ops, refusal(BAD_ACCESS_TOKEN), 200,
                     dict.fromkeys(ROLES, "Bearer "))


async def test_a_role_one_below_the_route_is_forbidden(api: Api) -> None:
    await seed_user(api, "victim", access_token=VICTIM_TOKEN)
    token_of: dict[str, str | None] = {}
    for auth, role in ROLE_BELOW.items():
        _, token_of[auth] = await seed_user(api, f"below-{auth}", role=role)
    await expect_all(api, await protected(api), refusal(FORBIDDEN), 200, token_of)


async def test_a_disabled_user_is_refused_whatever_the_role(api: Api) -> None:
    """Banned users are refused even when their role would be enough (the status
    is checked before the role)."""
    await seed_user(api, "victim", access_token=VICTIM_TOKEN)
    token_of: dict[str, str | None] = {}
    for auth, role in ROLES.items():
        _, token_of[auth] = await seed_user(api, f"banned-{auth}", role=role, status=2)
    await expect_all(api, await protected(api), refusal(BANNED), 200, token_of)


async def test_no_reply_contains_another_users_access_token(api: Api) -> None:
    """The allowed pass: every operation called by a caller who may call it
    (anonymous for public routes, a common user, an admin, root), with path ids
    and search keywords pointing at the victim; no body may contain the
    victim's access token, and none may be a server error."""
    victim_id, _ = await seed_user(api, "victim", access_token=VICTIM_TOKEN)
    async with database(api).session() as s:
        token = Token(user_id=victim_id, key=generate_api_key(), name="victim-token",
                      status=1, created_time=1, accessed_time=1, expired_time=-1,
                      remain_quota=0, unlimited_quota=True)
        s.add(token)
        await s.commit()
        token_id = token.id
    ids = {"/api/user/": victim_id, "/api/token/": token_id}
    _, user_token = await seed_user(api, "bob")
    _, admin_token = await seed_user(api, "carol", role=10)
    callers: list[tuple[str, str | None]] = [
        ("public", None), ("user", user_token), ("admin", admin_token),
        ("root", await root_access_token(api))]
    # Reads and writes first, then deletions (so every caller still sees the
    # victim), then the calls that end a caller's own credential.
    def phase(op: Operation) -> int:
        return 2 if (op.method, op.path) in SELF_ENDING else op.method == "DELETE"

    plan = sorted(((phase(op), index, op) for op in await operations(api)
                   for index, (name, _) in enumerate(callers)
                   if ROLES.get(op.auth, 0) <= ROLES.get(name, 0)),
                  key=lambda item: (item[0], item[1], METHOD_ORDER.get(item[2].method, 9)))
    problems = []
    for _, index, op in plan:
        name, access_token = callers[index]
        code, raw = await send(api, op, access_token, ids)
        if VICTIM_TOKEN.encode() in raw:
            problems.append(f"{op} as {name}: leaks the victim's access token")
        if code >= 500:
            problems.append(f"{op} as {name}: HTTP {code} {raw[:200]!r}")
    assert not problems, "\n".join(problems)
    assert len(plan) > 100
    # The victim is still there and still holds their token (nobody changed it).
    async with database(api).session() as s:
        stored = (await s.execute(select(User.access_token).where(User.id == victim_id))
                  ).scalar_one()
    assert stored == VICTIM_TOKEN
