"""Playground: root picks a token and a model, the answer streams in chunk by chunk from
the fake upstream (the text grows while the request is open), usage is shown, and the
request then shows up on the logs page and in the dashboard's charts. Stop cancels a
slow stream; an upstream error is shown, not swallowed."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway
from tests.seed import Seeder

MODEL = "gpt-4o-mini"
REPLY = "one two three four five six seven eight"


def _seed(site: Gateway) -> str:
    """An OpenAI channel to the fake upstream (through the API, so routing sees it) and a
    token of root's; returns the token key."""
    with httpx.Client(base_url=site.url) as root:
        assert root.post("/api/user/login",
                         json={"username": "root", "password": ROOT_PASSWORD}).json()["success"]
        body = {"type": 1, "name": "fake", "key": "sk-upstream", "base_url": site.fake.base_url,
                "models": MODEL, "group": "default"}
        reply = root.post("/api/channel/", json=body).json()
        assert reply["success"], reply

    async def token(s: Seeder) -> str:
        return await s.token(1, name="play-token")

    site.ids["seeded"] = True
    # site.db runs its own event loop: not in this thread, where Playwright's runs.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(site.db, token).result()


def _texts(page: Page) -> str:
    reply = page.get_by_test_id("message-assistant").last
    return reply.get_by_test_id("message-content").inner_text()


def test_chat_streams_then_shows_in_logs_and_dashboard(site: Gateway, page: Page) -> None:
    _seed(site)
    site.fake.reset()
    site.fake.behave(reply=REPLY, chunks=8, interval=0.25, stream_usage=True)
    login(page, "root", ROOT_PASSWORD)
    page.goto("/playground")
    expect(page.get_by_role("combobox", name="Token")).to_have_value("play-token")
    expect(page.get_by_role("combobox", name="Model")).to_have_value(MODEL)
    page.get_by_label("System prompt").fill("Be brief.")
    page.get_by_label("Message").fill("Count to eight")
    page.get_by_role("button", name="Send").click()

    # While the stream is open the reply grows: sample it and expect several lengths.
    expect(page.get_by_text("Streaming…")).to_be_visible()
    seen: list[str] = []
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        text = _texts(page)
        if not seen or text != seen[-1]:
            seen.append(text)
        if text.strip() == REPLY:
            break
        time.sleep(0.05)
    partial = [t for t in seen if t.strip() not in ("", "…", REPLY)]
    assert len(partial) >= 2, seen  # at least two distinct partial states before the end
    assert all(REPLY.startswith(t.strip()) for t in partial), seen
    expect(page.get_by_test_id("chat-stats")).to_contain_text("Done")
    expect(page.get_by_test_id("chat-stats")).to_contain_text(re.compile(r"Tokens: \d+ prompt"))
    assert _texts(page).strip() == REPLY
    sent = site.fake.requests[-1].json
    assert sent["stream"] is True
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    shot(page, "playground")

    # The request is billed: its log row is on /log with the stream badge ...
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(site.wait_logs, 1, type=2).result()
    page.goto("/log")
    row = page.get_by_test_id("log-table").get_by_role("row").filter(has_text=MODEL)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Consume")
    expect(row).to_contain_text("play-token")
    expect(row).to_contain_text("Stream")
    expect(row).to_contain_text(re.compile(r"\d+ ms"))

    # ... and in the dashboard's charts.
    page.goto("/dashboard")
    expect(page.get_by_test_id("stat-period-requests")).to_have_text("1")
    expect(page.locator(".recharts-bar-rectangle").first).to_be_attached()
    expect(page.get_by_role("cell", name=MODEL)).to_be_visible()


def test_stop_cancels_and_errors_are_shown(site: Gateway, page: Page,
                                           console: ConsoleWatch) -> None:
    if not site.ids.get("seeded"):
        _seed(site)
    site.fake.reset()
    site.fake.behave(reply="a b c d e f g h i j", chunks=10, interval=0.5)
    login(page, "root", ROOT_PASSWORD)
    page.goto("/playground")
    expect(page.get_by_role("combobox", name="Model")).to_have_value(MODEL)
    page.get_by_label("Message").fill("slow please")
    page.get_by_label("Message").press("Enter")
    expect(page.get_by_test_id("message-assistant")).to_contain_text("a")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_test_id("chat-stats")).to_contain_text("Done")
    stopped = _texts(page)
    assert stopped.strip() != "a b c d e f g h i j"
    assert site.fake.wait_idle(5)

    site.fake.reset()
    site.fake.behave(status=429, error="upstream is busy")
    console.allow("status of 429")  # the browser logs the failed request itself
    page.get_by_label("Message").fill("again")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("chat-error")).to_be_visible()
    expect(page.get_by_test_id("chat-error")).not_to_be_empty()
