"""Channel tests (spec 5.7): one chat completion through the channel's adaptor.

``build_test_meta`` makes the request the relay would make for a client's
``POST /v1/chat/completions`` (same parsing, model mapping, base URL and
adaptor); ``probe`` sends it with the relay's pooled client, never charges
quota, and records a Test log. ``test_all_channels`` tests every channel in
turn and applies the automatic disable/enable rules (it is what the periodic
scheduler calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from dataclasses import dataclass, field

import httpx
import orjson
from quart import current_app

from oneapi.accounts.notify import (
    background,
    notify_channel_disabled,
    notify_channel_enabled,
    notify_root,
)
from oneapi.admin import invalidate
from oneapi.cache.entities import ChannelInfo
from oneapi.db.models import Channel
from oneapi.errors import RelayError
from oneapi.relay import catalog
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.base import Meta, prepare
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, error_from_body, should_disable
from oneapi.state import AppState, app_state
from oneapi.store import channels as store
from oneapi.store.logs import LOG_TEST, record_log
from oneapi.tokenize import count_messages

log = logging.getLogger("oneapi.channels")

TEST_PATH = "/v1/chat/completions"
DEFAULT_TEST_MODEL = "gpt-3.5-turbo"
TEST_TIMEOUT = 60.0  # seconds, unless RELAY_TIMEOUT is shorter
LOG_TEXT_MAX = 4000  # characters of a reply kept in the Test log
ALREADY_RUNNING = "测试已在运行中"


class TestsAlreadyRunning(Exception):
    """A test of all channels is already under way in this process."""

    __test__ = False  # not a pytest class


@dataclass(slots=True)
class ProbeResult:
    channel_id: int
    model: str  # the model sent upstream (after the channel's mapping)
    ok: bool
    message: str  # the reply text, or what went wrong
    elapsed_ms: int
    error: RelayError | None = None  # the upstream's error object, when it sent one


@dataclass(slots=True)
class TestAllReport:
    __test__ = False  # not a pytest class

    tested: int = 0
    succeeded: int = 0
    disabled: list[int] = field(default_factory=list)
    enabled: list[int] = field(default_factory=list)


class _Failed(Exception):
    def __init__(self, message: str, error: RelayError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


# --- one test request -------------------------------------------------------------------
def pick_test_model(models: str | None, requested: str) -> str:
    """The reference's rule: the requested model (default gpt-3.5-turbo) if it is a
    substring of the channel's model list, else the list's first model."""
    requested = requested or DEFAULT_TEST_MODEL
    listed = models or ""
    if requested in listed:
        return requested
    return listed.split(",")[0]


def build_test_meta(channel: ChannelInfo, model: str, prompt: str) -> Meta:
    """The attempt the relay would make for a one-message, non-stream chat request
    for `model` on `channel` (the channel's model mapping applied)."""
    messages = [{"role": "user", "content": prompt}]
    request = parse_request(Mode.CHAT, orjson.dumps({"model": model, "messages": messages}),
                            "application/json")
    upstream_model = channel.model_mapping.get(model) or model
    return Meta(
        mode=Mode.CHAT, channel=channel, request=request, path=TEST_PATH,
        base_url=channel.base_url or catalog.default_base_url(channel.type),
        api_key=channel.key, origin_model=model, model=upstream_model, headers={},
        prompt_tokens=count_messages(messages, upstream_model),
    )


def _scrub(message: str, secret: str) -> str:
    return message.replace(secret, "***") if secret and len(secret) >= 4 else message


def _timeout(state: AppState) -> float:
    configured = float(state.settings.relay_timeout)
    return min(configured, TEST_TIMEOUT) if configured > 0 else TEST_TIMEOUT


def _reply_text(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Failed(f"the reply is not JSON: {exc}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise _Failed("response has no choices")
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise _Failed("response content is not string")
    return content


async def _exchange(state: AppState, meta: Meta) -> str:
    relay = state.relay
    if relay is None:
        raise _Failed("the relay is not running")
    adaptor = adaptor_for(meta.channel.type)
    try:
        await prepare(adaptor, meta)  # e.g. Vertex AI's access token
        up = adaptor.build_request(meta)
    except UpstreamFailure as failure:
        raise _Failed(failure.error.message, failure.error) from None
    limit = _timeout(state)
    client = relay.client
    try:
        request = client.build_request(up.method, up.url, headers=up.headers, content=up.body,
                                       timeout=httpx.Timeout(limit))
        async with asyncio.timeout(limit):
            response = await client.send(request)
    except (TimeoutError, httpx.ReadTimeout, httpx.PoolTimeout):
        raise _Failed(f"the upstream did not answer within {limit:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        # Refused, reset, DNS, connect timeouts; ValueError: a URL or header that
        # cannot be encoded (odd characters in the base URL or key).
        raise _Failed(f"the upstream request failed: {type(exc).__name__}: {exc}") from None
    status, body = response.status_code, response.content
    if status != 200:
        error = adaptor.upstream_error(status, body) or error_from_body(status, body)
        detail = f", error message: {error.message}" if error.message else ""
        raise _Failed(f"http status code: {status}{detail}", error)
    try:
        reply = adaptor.parse_reply(meta, status, list(response.headers.multi_items()), body)
    except UpstreamFailure as failure:
        raise _Failed(failure.error.message, failure.error) from None
    if reply.usage is None:
        raise _Failed("usage is nil")
    return _reply_text(reply.body)


async def probe(state: AppState, row: Channel, requested_model: str = "") -> ProbeResult:
    """Test one channel (no quota charged); records a Test log row."""
    channel = ChannelInfo.from_row(row)
    model = pick_test_model(row.models, requested_model)
    upstream_model = channel.model_mapping.get(model) or model
    started = time.perf_counter()
    error: RelayError | None = None
    try:
        if not model:
            raise _Failed("the channel has no models to test")
        text = await _exchange(state, build_test_meta(channel, model,
                                                      state.settings.test_prompt))
        ok, message = True, text
    except _Failed as failed:
        ok, message, error = False, _scrub(failed.message, channel.key), failed.error
    except Exception as exc:  # an adaptor bug must not leave the channel untested
        log.exception("channel #%d: test failed unexpectedly", channel.id)
        ok, message = False, _scrub(f"{type(exc).__name__}: {exc}", channel.key)
    # A success always takes at least 1 ms, so 0 keeps meaning "failed".
    elapsed = max(1, int((time.perf_counter() - started) * 1000))
    shown = message if len(message) <= LOG_TEXT_MAX else message[:LOG_TEXT_MAX] + "..."
    content = (f"渠道 {channel.name} 测试成功，响应：{shown}" if ok
               else f"渠道 {channel.name} 测试失败，错误：{shown}")
    try:
        await record_log(state.database, user_id=0, username="", type=LOG_TEST,
                         content=content, channel_id=channel.id, model_name=upstream_model,
                         elapsed_time=elapsed)
    except Exception:
        log.exception("channel #%d: could not record the test log", channel.id)
    return ProbeResult(channel.id, upstream_model, ok, message, elapsed, error)


async def test_channel(channel_id: int, model: str = "") -> ProbeResult | None:
    """The single test of ``GET /api/channel/test/:id``: probe, then store the
    response time (0 when the test failed). None if there is no such channel."""
    state = app_state()
    row = await store.load_channel(state.database, channel_id)
    if row is None:
        return None
    result = await probe(state, row, model)
    await store.set_response_time(state.database, channel_id,
                                  result.elapsed_ms if result.ok else 0)
    return result


test_channel.__test__ = False  # type: ignore[attr-defined]


# --- every channel ------------------------------------------------------------------------
_running: set[int] = set()  # id() of the AppStates with a test of all channels under way
_tasks: dict[int, asyncio.Task[None]] = {}


def _claim(state: AppState) -> None:
    if id(state) in _running:
        raise TestsAlreadyRunning(ALREADY_RUNNING)
    _running.add(id(state))


def test_all_running(state: AppState | None = None) -> bool:
    return id(state or app_state()) in _running


test_all_running.__test__ = False  # type: ignore[attr-defined]


async def test_all_channels(scope: str = "all") -> TestAllReport:
    """Test every channel (scope "all") or the disabled ones ("disabled"), one at a
    time, applying the automatic disable/enable rules. Needs the app context;
    raises TestsAlreadyRunning when a run is under way."""
    state = app_state()
    _claim(state)
    try:
        return await _test_all(state, scope)
    finally:
        _running.discard(id(state))


test_all_channels.__test__ = False  # type: ignore[attr-defined]


def start_test_all(scope: str = "all") -> None:
    """Start ``test_all_channels`` in the background (the route's answer does not wait)."""
    state = app_state()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _claim(state)

    async def run() -> None:
        try:
            async with app.app_context():
                report = await _test_all(state, scope)
            log.info("channel test finished: %d tested, %d ok, disabled %s, enabled %s",
                     report.tested, report.succeeded, report.disabled, report.enabled)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the test of all channels failed")
        finally:
            _running.discard(id(state))
            _tasks.pop(id(state), None)

    if id(state) not in _tasks:
        state.on_shutdown("channel tests", lambda: _stop(id(state)))
    _tasks[id(state)] = asyncio.create_task(run(), name="channel-test-all")


async def _stop(key: int) -> None:
    task = _tasks.pop(key, None)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _as_test_error(error: RelayError) -> RelayError:
    # The reference judges test errors without their HTTP status (status -1):
    # the error's type, code and message decide.
    return RelayError(-1, error.message, type=error.type, code=error.code)


async def _test_all(state: AppState, scope: str) -> TestAllReport:
    db, options = state.database, state.options
    statuses = store.DISABLED_STATUSES if scope == "disabled" else None
    rows = await store.load_channels(db, statuses)
    threshold_ms = int(options.float("ChannelDisableThreshold") * 1000)
    interval = float(state.settings.polling_interval)
    report = TestAllReport()
    for index, row in enumerate(rows):
        if index and interval > 0:
            await asyncio.sleep(interval)
        result = await probe(state, row)
        report.tested += 1
        report.succeeded += result.ok
        auto_disable = options.bool("AutomaticDisableChannelEnabled")
        too_slow = threshold_ms > 0 and result.elapsed_ms > threshold_ms
        if row.status == store.CHANNEL_ENABLED:
            reason = ""
            if too_slow:
                reason = (f"响应时间 {result.elapsed_ms / 1000:.2f}s 超过阈值 "
                          f"{threshold_ms / 1000:.2f}s")
                if not auto_disable:
                    log.warning("channel #%d (%s) test too slow: %s", row.id, row.name, reason)
                    background(notify_root(f"渠道 {row.name} （{row.id}）测试超时",
                                           html.escape(reason), state=state))
                    reason = ""
            elif (auto_disable and result.error is not None
                  and should_disable(_as_test_error(result.error))):
                reason = result.message
            if reason and await _change_status(state, row, store.CHANNEL_AUTO_DISABLED,
                                               reason):
                report.disabled.append(row.id)
        elif (row.status == store.CHANNEL_AUTO_DISABLED and result.ok and not too_slow
              and options.bool("AutomaticEnableChannelEnabled")
              and await _change_status(state, row, store.CHANNEL_ENABLED, "")):
            # Only channels the system disabled come back on their own; an
            # admin's manual disable (status 2) stays.
            report.enabled.append(row.id)
        await store.set_response_time(db, row.id, result.elapsed_ms)
    return report


async def _change_status(state: AppState, row: Channel, status: int, reason: str) -> bool:
    changed = await store.set_status(state.database, row.id, status, only_if=row.status)
    if not changed:
        return False
    await invalidate.channels_changed()
    if status == store.CHANNEL_ENABLED:
        log.warning("channel #%d (%s) has been enabled", row.id, row.name)
        background(notify_channel_enabled(row.id, row.name, state=state))
    else:
        log.warning("channel #%d (%s) has been disabled: %s", row.id, row.name, reason)
        background(notify_channel_disabled(row.id, row.name, reason, state=state))
    return True
