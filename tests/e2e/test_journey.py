"""The whole first-day story of issue 7, through the UI only: root logs in and changes the
default password, adds a channel and tests it, creates a token, chats from the playground
and watches the answer stream, finds the request in the logs and the dashboard, creates a
redemption code; a second person registers in another browser, redeems the code, and
switches the UI to Chinese and back."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch, new_page
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway

NEW_ROOT_PASSWORD = "journey-root-pass"
MODEL = "gpt-3.5-turbo"
REPLY = "alpha beta gamma delta epsilon zeta"


def _assistant_text(page: Page) -> str:
    reply = page.get_by_test_id("message-assistant").last
    return reply.get_by_test_id("message-content").inner_text().strip()


def _root_changes_password(page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.get_by_test_id("default-password-warning").get_by_role(
        "link", name="Change password").click()
    page.get_by_label("New password", exact=True).fill(NEW_ROOT_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_ROOT_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed")).to_be_visible()
    expect(page.get_by_test_id("default-password-alert")).to_have_count(0)


def _add_and_test_channel(page: Page, site: Gateway) -> None:
    page.get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Add channel").click()
    page.get_by_label("Name").fill("journey-upstream")
    page.get_by_label("Proxy / base URL (optional)").fill(site.fake.base_url)
    page.get_by_label("Custom models").fill(MODEL)
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label(re.compile(r"^Key\b")).fill("sk-journey-upstream")
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/channel$"))
    row = page.get_by_role("row").filter(has_text="journey-upstream")
    row.get_by_role("button", name="Test journey-upstream").click()
    expect(row.get_by_test_id("response-time")).to_have_text(re.compile(r"^(\d+ ms|\d+\.\d\d s)$"))


def _create_token(page: Page) -> None:
    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="Add token").click()
    page.get_by_label("Name").fill("journey")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/token$"))
    expect(page.get_by_role("row").filter(has_text="journey")).to_contain_text("Enabled")


def _chat_streams(page: Page, site: Gateway) -> None:
    site.fake.behave(reply=REPLY, chunks=6, interval=0.25, stream_usage=True)
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("combobox", name="Token")).to_have_value("journey")
    expect(page.get_by_role("combobox", name="Model")).to_have_value(MODEL)
    page.get_by_label("Message").fill("Say six Greek letters")
    page.get_by_role("button", name="Send").click()
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = _assistant_text(page)
        if text and (not seen or text != seen[-1]):
            seen.append(text)
        if text == REPLY:
            break
        time.sleep(0.05)
    assert seen and seen[-1] == REPLY, seen
    partial = [t for t in seen if t not in ("…", REPLY)]
    assert len(partial) >= 2, f"the reply did not grow in steps: {seen}"
    expect(page.get_by_test_id("chat-stats")).to_contain_text("Done")
    shot(page, "journey-playground")


def _request_in_logs_and_dashboard(page: Page) -> None:
    page.get_by_role("link", name="Logs").click()
    # (the channel test left a Test row too; the chat is the Consume row)
    row = page.get_by_test_id("log-table").get_by_role("row").filter(
        has_text=MODEL).filter(has_text="Consume")
    # the accounting writer commits a few ms after the answer: reload until it shows
    for _ in range(50):
        if row.count():
            break
        time.sleep(0.1)
        page.reload()
    expect(row).to_have_count(1)
    expect(row).to_contain_text("journey")
    expect(row).to_contain_text("Stream")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("stat-period-requests")).to_have_text("1")
    expect(page.locator(".recharts-bar-rectangle").first).to_be_attached()


def _create_code(page: Page) -> str:
    page.get_by_role("link", name="Redemptions").click()
    page.get_by_role("link", name="Create codes").click()
    page.get_by_label("Name").fill("welcome")
    page.get_by_label("Quota").fill("1000000")
    page.get_by_label("Count").fill("1")
    page.get_by_role("button", name="Create").click()
    codes = page.get_by_role("dialog").get_by_test_id("created-key")
    expect(codes).to_have_count(1)
    return codes.inner_text().strip()


def _second_user_redeems_and_switches_language(page: Page, code: str) -> None:
    page.goto("/register")
    page.get_by_label("Username").fill("dave")
    page.get_by_label("Password", exact=True).fill("dave-pass-1")
    page.get_by_label("Confirm password").fill("dave-pass-1")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    login(page, "dave", "dave-pass-1")
    expect(page.get_by_role("link", name="Channels")).to_have_count(0)  # not an admin

    page.get_by_role("link", name="Top up").click()
    balance = page.get_by_test_id("balance")
    expect(balance).to_have_text("$0.00")
    page.get_by_label("Redemption code").fill(code)
    page.get_by_role("button", name="Redeem").click()
    expect(balance).to_have_text("$2.00")

    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("link", name="充值")).to_be_visible()
    expect(page.get_by_role("link", name="令牌")).to_be_visible()
    shot(page, "journey-topup-zh")
    page.get_by_text("EN", exact=True).click()
    expect(page.get_by_role("link", name="Top up")).to_be_visible()


def test_first_day_through_the_ui(browser: Browser, site: Gateway, page: Page,
                                  console: ConsoleWatch) -> None:
    _root_changes_password(page)
    _add_and_test_channel(page, site)
    _create_token(page)
    _chat_streams(page, site)
    _request_in_logs_and_dashboard(page)
    code = _create_code(page)

    other = new_page(browser, site, console)
    try:
        _second_user_redeems_and_switches_language(other, code)
    finally:
        other.context.close()
