"""Logs and dashboard: the admin sees everyone's logs and narrows them with filters (the
summed quota follows), a common user sees only their own, and the dashboard charts the
caller's usage for 7 or 30 days."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch, new_page
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway
from tests.seed import Seeder

T = TypeVar("T")
MODEL = "gpt-4o-mini"
PASSWORD = "bob-password-1"


def _db(site: Gateway, fn: Callable[[Seeder], Awaitable[T]]) -> T:
    # site.db runs its own event loop: not in this thread, where Playwright's runs.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(site.db, fn).result()


def _root(site: Gateway) -> httpx.Client:
    client = httpx.Client(base_url=site.url)
    assert client.post("/api/user/login",
                       json={"username": "root", "password": ROOT_PASSWORD}).json()["success"]
    return client


def _seed(site: Gateway) -> None:
    """A channel, bob, and four billed chats: root's via alpha (2) and beta (1), bob's (1)."""
    if site.ids.get("seeded"):
        return
    root = _root(site)
    try:
        body: dict[str, Any] = {"type": 1, "name": "fake", "key": "sk-upstream",
                                "base_url": site.fake.base_url, "models": MODEL}
        assert root.post("/api/channel/", json=body).json()["success"]
        assert root.post("/api/user/", json={"username": "bob", "password": PASSWORD}
                         ).json()["success"]
        bob_id = root.get("/api/user/search", params={"keyword": "bob"}).json()["data"][0]["id"]
        assert root.put("/api/user/", json={"id": bob_id, "quota": 10**9}).json()["success"]
    finally:
        root.close()

    async def tokens(s: Seeder) -> tuple[str, str, str]:
        return (await s.token(1, name="alpha"), await s.token(1, name="beta"),
                await s.token(bob_id, name="bobs"))

    alpha, beta, bobs = _db(site, tokens)
    for key in (alpha, alpha, beta, bobs):
        assert site.chat(key, MODEL).status_code == 200
    with ThreadPoolExecutor(1) as pool:  # the accounting writer logs in the background
        assert len(pool.submit(site.wait_logs, 4, type=2).result()) == 4
    site.ids["seeded"] = True


def _rows(page: Page) -> Any:
    return page.get_by_test_id("log-table").locator("tbody tr").filter(has_text=MODEL)


def test_admin_filters_logs_and_sees_the_sum(site: Gateway, page: Page) -> None:
    _seed(site)
    login(page, "root", ROOT_PASSWORD)
    page.goto("/log")
    expect(_rows(page)).to_have_count(4)
    expect(page.get_by_role("columnheader", name="User")).to_be_visible()
    expect(page.get_by_test_id("log-stat")).to_contain_text("$0.0000")
    total = page.get_by_test_id("log-stat").inner_text()
    shot(page, "logs")

    page.get_by_label("Token name").fill("beta")
    page.get_by_role("button", name="Search").click()
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page)).to_contain_text("root")
    expect(page.get_by_test_id("log-stat")).not_to_have_text(total)

    page.get_by_role("button", name="Reset").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_role("button", name="Search").click()
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page)).to_contain_text("bobs")

    page.get_by_role("button", name="Reset").click()
    page.get_by_role("combobox", name="Type").click()
    page.get_by_role("option", name="Top-up").click()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Nothing here yet")).to_be_visible()


def test_user_sees_only_own_logs(site: Gateway, browser: Browser,
                                 console: ConsoleWatch) -> None:
    _seed(site)
    page = new_page(browser, site, console)
    try:
        login(page, "bob", PASSWORD)
        page.goto("/log")
        expect(_rows(page)).to_have_count(1)
        expect(_rows(page)).to_contain_text("bobs")
        expect(page.get_by_label("Username")).to_have_count(0)
        expect(page.get_by_role("columnheader", name="User")).to_have_count(0)
    finally:
        page.context.close()
    assert not console.unexpected(), console.unexpected()


def test_dashboard_charts_the_callers_usage(site: Gateway, page: Page) -> None:
    _seed(site)
    login(page, "root", ROOT_PASSWORD)
    page.goto("/dashboard")
    expect(page.get_by_test_id("stat-period-requests")).to_have_text("3")
    expect(page.get_by_role("cell", name=MODEL)).to_be_visible()
    bars = page.locator(".recharts-bar-rectangle")
    expect(bars.first).to_be_attached()
    with page.expect_response(lambda r: "/api/user/dashboard?days=30" in r.url):
        page.get_by_text("Last 30 days").click()
    expect(page.get_by_test_id("stat-period-requests")).to_have_text("3")
    expect(page.locator(".recharts-area-area").first).to_be_attached()
    shot(page, "dashboard")
