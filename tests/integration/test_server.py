"""The real gateway process, started as a user would: ``python -m oneapi``."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from tests.server import Server, clean_env, launch, running, wait_ready

pytestmark = pytest.mark.server

REQUEST_ID = re.compile(r"^\d{14}\d{1,9}\d{8}$")
STATUS_KEYS = {
    "version", "start_time", "email_verification", "github_oauth", "github_client_id",
    "lark_client_id", "system_name", "logo", "footer_html", "wechat_qrcode", "wechat_login",
    "server_address", "turnstile_check", "turnstile_site_key", "top_up_link", "chat_link",
    "quota_per_unit", "display_in_currency", "oidc", "oidc_client_id", "oidc_well_known",
    "oidc_authorization_endpoint", "oidc_token_endpoint", "oidc_userinfo_endpoint",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One gateway on a fresh SQLite database, shared by the read-only tests below."""
    with running(tmp_path_factory.mktemp("srv"), {}) as srv:
        yield srv


def test_fresh_start_on_sqlite_serves_status_and_logs_to_a_daily_file(tmp_path: Path) -> None:
    srv = launch(tmp_path, {})
    try:
        took = wait_ready(srv)
        assert took < 60
        reply = httpx.get(srv.base_url + "/api/status")
        body = reply.json()
        assert body["success"] is True and body["message"] == ""
        assert set(body["data"]) == STATUS_KEYS
        assert body["data"]["version"] == "v" + version("one-api")
        assert body["data"]["system_name"] == "One API"
        assert body["data"]["quota_per_unit"] == 500000
        assert abs(body["data"]["start_time"] - time.time()) < 120
        rid = reply.headers["x-oneapi-request-id"]
    finally:
        assert srv.stop() == 0
    assert (tmp_path / "one-api.db").is_file()
    logs = list((tmp_path / "logs").glob("oneapi-*.log"))
    assert [p.name for p in logs] == [time.strftime("oneapi-%Y%m%d.log")]
    text = logs[0].read_text()
    assert rid in text and "GET /api/status" in text
    assert "default password" in text  # the root warning reaches the log file too


def test_log_dir_flag_and_single_log_file(tmp_path: Path) -> None:
    with running(tmp_path, {"ONLY_ONE_LOG_FILE": "true"}, ["--log-dir", "elsewhere"]) as srv:
        httpx.get(srv.base_url + "/api/status")
    assert (tmp_path / "elsewhere" / "oneapi.log").is_file()
    assert not (tmp_path / "logs").exists()
    assert "GET /api/status" in (tmp_path / "elsewhere" / "oneapi.log").read_text()


def test_port_variable_wins_over_flag(tmp_path: Path) -> None:
    # tests.server puts the chosen port in PORT; the flag names another one.
    with running(tmp_path, {}, ["--port", "1"]) as srv:
        assert httpx.get(srv.base_url + "/api/status").json()["success"] is True


def test_version_flag_of_module_and_console_script() -> None:
    want = "v" + version("one-api")
    out = subprocess.run([sys.executable, "-m", "oneapi", "--version"], capture_output=True,
                         text=True, check=True, env=clean_env({}))
    assert out.stdout.strip() == want
    script = Path(sys.executable).parent / "one-api"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True,
                         env=clean_env({}))
    assert out.stdout.strip() == want


@pytest.mark.parametrize(("env", "name"), [
    ({"SQL_DSN": "not a dsn"}, "SQL_DSN"),
    ({"LOG_SQL_DSN": "oracle://scott@db/orcl"}, "LOG_SQL_DSN"),
    ({"SYNC_FREQUENCY": "often"}, "SYNC_FREQUENCY"),
    ({"PORT": "http"}, "PORT"),
    ({"BATCH_UPDATE_ENABLED": "maybe"}, "BATCH_UPDATE_ENABLED"),
    ({"SESSION_SECRET": "random_string"}, "SESSION_SECRET"),
])
def test_bad_setting_stops_startup_with_one_line(tmp_path: Path, env: dict[str, str],
                                                  name: str) -> None:
    out = subprocess.run([sys.executable, "-m", "oneapi"], capture_output=True, text=True,
                         cwd=tmp_path, env=clean_env(env), timeout=60)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert name in lines[0]
    assert "Traceback" not in out.stdout + out.stderr
    assert not (tmp_path / "one-api.db").exists()


def test_unreachable_database_fails_cleanly(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "oneapi"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60,
                         env=clean_env({"SQL_DSN": "root:pw@tcp(127.0.0.1:1)/oneapi"}))
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "start-up failed" in out.stderr
    assert "pw" not in out.stderr.replace("pw@", "")  # no password echoed back


def test_every_response_carries_a_request_id(server: Server) -> None:
    seen = set()
    for path in ("/api/status", "/v1/nope", "/", "/metrics", "/no/such/page"):
        rid = httpx.get(server.base_url + path).headers["x-oneapi-request-id"]
        assert REQUEST_ID.match(rid), rid
        seen.add(rid)
    assert len(seen) == 5


def test_trailing_slash_is_accepted(server: Server) -> None:
    a = httpx.get(server.base_url + "/api/status").json()
    b = httpx.get(server.base_url + "/api/status/").json()
    assert a == b and a["success"] is True
    assert httpx.get(server.base_url + "/api/notice/").json() == {
        "success": True, "message": "", "data": ""}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/does-not-exist"),
    ("POST", "/v1/nothing/here/"),
    ("GET", "/api/nope"),
    ("DELETE", "/api/status"),  # known path, wrong method: not found, as the reference
    ("GET", "/v1"),
])
def test_unknown_api_paths_get_json_404(server: Server, method: str, path: str) -> None:
    reply = httpx.request(method, server.base_url + path)
    assert reply.status_code == 404
    assert reply.json() == {"error": {"message": f"Invalid URL ({method} {path})",
                                      "type": "invalid_request_error", "param": "", "code": ""}}


def test_pages_fall_back_to_the_spa_index(server: Server) -> None:
    for path in ("/", "/channel", "/token/edit/5"):
        reply = httpx.get(server.base_url + path)
        assert reply.status_code == 200
        assert "<html" in reply.text.lower()
        assert "no-cache" in reply.headers["cache-control"]
    assert httpx.get(server.base_url + "/assets/missing.js").status_code == 404


def test_gzip_request_bodies(server: Server) -> None:
    bad = httpx.post(server.base_url + "/api/status", content=b"not gzip at all",
                     headers={"content-encoding": "gzip"})
    assert bad.status_code == 400 and bad.content == b""
    # A valid gzip body passes the decoder and reaches routing (GET-only route: 404).
    good = httpx.post(server.base_url + "/api/status", content=gzip.compress(b"{}"),
                      headers={"content-encoding": "gzip", "content-type": "application/json"})
    assert good.status_code == 404


def test_metrics_endpoint_counts_requests(server: Server) -> None:
    for _ in range(3):
        httpx.get(server.base_url + "/api/about")
    text = httpx.get(server.base_url + "/metrics").text
    match = re.search(
        r'^oneapi_http_requests_total\{group="api",method="GET",status="200"\} (\d+)', text,
        re.M)
    assert match and float(match.group(1)) >= 3


SLOW_APP = """
import asyncio, sys
from pathlib import Path
import oneapi.asgi as entry

@entry.app.get("/slow")
async def slow():
    await asyncio.sleep(2)
    return "done"

async def flush():
    await asyncio.sleep(0.2)
    Path("flushed").write_text("yes")

entry.app.extensions["oneapi"].on_shutdown("test-queue", flush)

from oneapi.__main__ import main
sys.exit(main(["--workers", "0"]))
"""


def test_sigterm_drains_in_flight_requests_then_flushes(tmp_path: Path) -> None:
    (tmp_path / "slowapp.py").write_text(SLOW_APP)
    srv = launch(tmp_path, {"GRACEFUL_TIMEOUT": "10"}, python_args=["slowapp.py"])
    result: dict[str, object] = {}

    def call() -> None:
        try:
            reply = httpx.get(srv.base_url + "/slow", timeout=20)
            result["status"], result["text"] = reply.status_code, reply.text
        except Exception as exc:  # recorded for the assertion below
            result["error"] = exc

    try:
        wait_ready(srv)
        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.5)
        srv.process.send_signal(15)
        thread.join(20)
        assert result.get("status") == 200 and result.get("text") == "done", result
        assert srv.process.wait(20) == 0
    finally:
        srv.stop()
    assert (tmp_path / "flushed").read_text() == "yes"


def test_several_workers_share_metrics(tmp_path: Path) -> None:
    with running(tmp_path, {"WORKERS": "2"}) as srv:
        with httpx.Client(base_url=srv.base_url) as client:
            for _ in range(20):
                # New connections so that both workers answer some of them.
                client.get("/api/about", headers={"connection": "close"})
        text = httpx.get(srv.base_url + "/metrics").text
        match = re.search(
            r'^oneapi_http_requests_total\{group="api",method="GET",status="200"\} (\d+)',
            text, re.M)
        assert match and float(match.group(1)) >= 20
