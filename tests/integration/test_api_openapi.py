"""A property-based run (schemathesis) over the OpenAPI document, against the
in-process app, authenticated as root with ``Authorization: <access token>``.

Cases are generated per operation with Hypothesis (positive and negative data,
a few derandomized examples each), sent through httpx's ASGI transport to the
running app (same event loop, so the app's database engines keep working), and
every reply is checked with schemathesis' ``not_a_server_error`` and
``response_schema_conformance`` (where the document declares the status).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api_support import Api, started_api

ROOT_ACCESS_TOKEN = "root-access-token-for-the-schemathesis-run"
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 5}

# Left out of the run, and why:
EXCLUDED = {
    # Replaces root's access token - the credential every other case uses.
    ("GET", "/api/user/token"),
    # Wipes the log table that the log routes of later cases read (and there is
    # nothing to learn from fuzzing one timestamp).
    ("DELETE", "/api/log"),
    # Tests every channel in the background, against whatever base URLs the
    # generated channels carry (outbound connections, unbounded time).
    ("GET", "/api/channel/test"),
    # Queries every channel's provider for its balance (outbound connections).
    ("GET", "/api/channel/update_balance"),
    # OAuth callbacks and WeChat binding: each calls an external provider.
    ("GET", "/api/oauth/github"),
    ("GET", "/api/oauth/lark"),
    ("GET", "/api/oauth/oidc"),
    ("GET", "/api/oauth/wechat"),
    ("GET", "/api/oauth/wechat/bind"),
    # Mailers: verification codes and reset links go out by SMTP.
    ("GET", "/api/verification"),
    ("GET", "/api/reset_password"),
}
# Kept on purpose: DELETE /api/user/self (root cannot delete itself - the refusal
# is what is tested), GET /api/user/logout (clears a session; the run uses an
# access token), PUT /api/option, PUT /api/user and POST /api/user/manage (root
# can neither be demoted nor disabled).

# Run first, before POST /api/channel has created any channel: with no channel
# behind the generated ids they stay local (no outbound test or balance query).
FIRST = {("GET", "/api/channel/test/{id}"), ("GET", "/api/channel/update_balance/{id}")}


@pytest.fixture
async def root_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app with a known root access token; DEBUG lifts the per-IP limits
    (the critical ones would answer 429 after 20 logins/registrations)."""
    async with started_api(f"sqlite:///{tmp_path / 'one-api.db'}",
                           LOG_DIR=str(tmp_path / "logs"), DEBUG="true",
                           INITIAL_ROOT_ACCESS_TOKEN=ROOT_ACCESS_TOKEN) as started:
        yield started


def generate(operation: Any, mode: GenerationMode, examples: int) -> list[Any]:
    """`examples` derandomized cases of one operation (Hypothesis runs the
    collector synchronously; nothing is sent here)."""
    cases: list[Any] = []

    @given(operation.as_strategy(generation_mode=mode,
                                 headers={"Authorization": ROOT_ACCESS_TOKEN}))
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def collect(case: Any) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:  # negative data for an operation without any input
        assert mode is GenerationMode.NEGATIVE, operation.label
    return cases


async def send(client: httpx.AsyncClient, case: Any) -> httpx.Response:
    client.cookies.clear()  # no session cookie from an earlier reply: only the header
    kwargs = case.as_transport_kwargs(base_url="http://gateway.test")
    kwargs.pop("cookies", None)  # the generated (empty) session cookie: the header is used
    headers = dict(kwargs.pop("headers", {}))
    headers["Authorization"] = ROOT_ACCESS_TOKEN
    if isinstance(kwargs.get("data"), (bytes, str)):
        kwargs["content"] = kwargs.pop("data")
    return await client.request(kwargs.pop("method"), kwargs.pop("url"), headers=headers,
                                **kwargs)


async def test_no_server_errors_and_replies_match_the_document(root_api: Api) -> None:
    reply = await root_api.client().get("/api/openapi.json")
    schema = schemathesis.openapi.from_dict(await reply.get_json())
    operations = [result.ok() for result in schema.get_all_operations()
                  if isinstance(result, Ok)]
    names = {(op.method.upper(), op.path) for op in operations}
    assert names >= EXCLUDED | FIRST, "an exclusion names an operation that no longer exists"
    operations = [op for op in operations if (op.method.upper(), op.path) not in EXCLUDED]
    operations.sort(key=lambda op: (op.method.upper(), op.path) not in FIRST)

    failures: dict[str, str] = {}
    sent = 0
    transport = httpx.ASGITransport(app=cast(Any, root_api.app))  # Quart is an ASGI app
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test",
                                 timeout=30) as client:
        for op in operations:
            label = f"{op.method.upper()} {op.path}"
            for mode, examples in EXAMPLES.items():
                for case in generate(op, mode, examples):
                    response = await send(client, case)
                    sent += 1
                    try:
                        case.validate_response(
                            response, checks=[not_a_server_error,
                                              response_schema_conformance])
                    except FailureGroup as exc:
                        failures.setdefault(label, f"[{mode.value}] {exc.message}")
                    if op.path == "/api/user/self" and op.method.upper() == "DELETE":
                        assert response.json()["success"] is False  # root stays
    # The credential survived the whole run (nothing above may revoke it).
    check = await root_api.client().get("/api/user/self",
                                        headers={"Authorization": ROOT_ACCESS_TOKEN})
    me = (await check.get_json())["data"]
    assert (me["id"], me["role"], me["status"]) == (1, 100, 1)  # (it may have been renamed)
    assert sent > 300
    assert not failures, "\n\n".join(f"== {k}\n{_short(v)}" for k, v in failures.items())


def _short(text: str, limit: int = 1500) -> str:
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text if len(text) <= limit else text[:limit] + " ..."
