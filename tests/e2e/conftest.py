"""Fixtures for the browser tests (see support.py).

`site` is one gateway per test module (fresh SQLite database, root/123456 bootstrapped,
one OpenAI channel pointing at a fake upstream is *not* created: tests add what they
need through the UI or the seeder). `page` is a fresh browser context per test, so
cookies and localStorage never leak between tests; it fails the test on any JavaScript
error or console error the app produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.dbs import unavailable
from tests.e2e.support import CHROMIUM_ARGS, DIST, chromium_path, shot
from tests.fakes.upstream import FakeUpstream
from tests.relay_support import Gateway, start_gateway
from tests.seed import Seeder


@pytest.fixture(scope="module")
def browser(site: Gateway) -> Iterator[Browser]:
    # Depends on `site` so the gateway (seeded in an event loop of its own) starts
    # before Playwright's loop runs in this thread.
    if not (DIST / "index.html").is_file():
        unavailable("frontend/dist is not built (make test builds it)")
    executable = chromium_path()
    if executable is None:
        unavailable("chromium is not installed (make test installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


async def _no_seed(s: Seeder, upstream: FakeUpstream) -> dict[str, Any]:
    return {"upstream": upstream.base_url}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    workdir = tmp_path_factory.mktemp("e2e")
    # Every test's fresh browser context fetches all the SPA's chunks again (no cache), so
    # a module soon passes the per-IP page limit (240 / 3 min); real browsers cache them.
    env = {"FRONTEND_DIR": str(DIST), "GLOBAL_WEB_RATE_LIMIT": "0"}
    with start_gateway(workdir, _no_seed, env=env) as gateway:
        yield gateway


class ConsoleWatch:
    """JavaScript errors and console errors seen in a page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        """Tolerate console errors containing `fragment` (e.g. an expected failed load)."""
        self.allowed.append(fragment)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


def new_page(browser: Browser, site: Gateway, console: ConsoleWatch, locale: str = "en-US") -> Page:
    context = browser.new_context(base_url=site.url, locale=locale,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_error)
    return page


@pytest.fixture
def page(browser: Browser, site: Gateway, console: ConsoleWatch,
         request: pytest.FixtureRequest) -> Iterator[Page]:
    page = new_page(browser, site, console)
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            shot(page, f"FAILED-{request.node.name}")
        page.context.close()
    assert not console.unexpected(), "\n".join(console.unexpected())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
