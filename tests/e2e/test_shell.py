"""The app shell: served SPA, client routes, language switch, theme, attribution."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch, new_page
from tests.e2e.support import shot
from tests.relay_support import Gateway


def test_client_routes_fall_back_to_the_app_and_assets_are_cached(site: Gateway) -> None:
    index = httpx.get(site.url + "/token/edit/5")
    assert index.status_code == 200
    assert '<div id="root">' in index.text
    assert "no-cache" in index.headers["cache-control"]
    asset = index.text.split('src="', 2)[1].split('"', 1)[0]
    cached = httpx.get(site.url + asset)
    assert cached.status_code == 200
    assert "max-age" in cached.headers["cache-control"]
    assert httpx.get(site.url + "/assets/missing.js").status_code == 404


def test_home_shows_shell_and_attribution(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("link", name="Home")).to_be_visible()
    expect(page.get_by_role("link", name="About")).to_be_visible()
    attribution = page.get_by_test_id("attribution").get_by_role("link")
    expect(attribution).to_have_attribute("href", "https://github.com/songquanpeng/one-api")
    shot(page, "home")


def test_language_switch_persists(page: Page) -> None:
    page.goto("/about")
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("link", name="关于")).to_be_visible()
    page.reload()
    expect(page.get_by_role("link", name="关于")).to_be_visible()
    page.get_by_text("EN", exact=True).click()
    expect(page.get_by_role("link", name="About")).to_be_visible()


def test_browser_language_picks_chinese(browser: Browser, site: Gateway,
                                        console: ConsoleWatch) -> None:
    page = new_page(browser, site, console, locale="zh-CN")
    try:
        page.goto("/")
        expect(page.get_by_role("link", name="首页")).to_be_visible()
    finally:
        page.context.close()


def test_theme_toggle_switches_to_dark(page: Page) -> None:
    page.goto("/")
    html = page.locator("html")
    before = html.get_attribute("data-mantine-color-scheme")
    page.get_by_role("button", name="Toggle light/dark theme").click()
    expect(html).not_to_have_attribute("data-mantine-color-scheme", before or "")


def test_pages_for_users_send_visitors_to_login(page: Page) -> None:
    page.goto("/token")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_unknown_route_shows_not_found(page: Page) -> None:
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def test_phone_width_uses_a_menu_drawer(browser: Browser, site: Gateway,
                                        console: ConsoleWatch) -> None:
    context = browser.new_context(base_url=site.url, locale="en-US",
                                  viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.on("pageerror", console.on_error)
    try:
        page.goto("/")
        about = page.get_by_role("link", name="About")
        expect(about).not_to_be_in_viewport()  # the navigation is folded away
        page.get_by_role("button", name="menu").click()
        expect(about).to_be_in_viewport()
        about.click()
        expect(page).to_have_url(re.compile(r"/about$"))
        expect(about).not_to_be_in_viewport()  # closed again after choosing
        # nothing is wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "phone-about")
    finally:
        context.close()


def test_login_form_is_keyboard_reachable(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Username").focus()
    page.keyboard.type("root")
    page.keyboard.press("Tab")
    page.keyboard.type("123456")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-menu")).to_be_visible()
