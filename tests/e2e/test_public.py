"""Public pages and the user's own pages: home (notice, content, system info), about,
top-up with a redemption code, and Personal settings."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway

USER, USER_PASSWORD = "dave", "dave-pass-1"


@pytest.fixture(scope="module", autouse=True)
def _gateway_first(site: Gateway) -> Gateway:
    """Start the gateway before the browser: its seeding runs an event loop of its own,
    which cannot start once Playwright's is running."""
    return site


@pytest.fixture(scope="module")
def root(site: Gateway) -> Iterator[httpx.Client]:
    """An API session as root (options, redemption codes)."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        reply = client.post("/api/user/login", json={"username": "root", "password": ROOT_PASSWORD})
        assert reply.json()["success"], reply.text
        yield client


@pytest.fixture(scope="module")
def user(site: Gateway) -> str:
    reply = httpx.post(site.url + "/api/user/register",
                       json={"username": USER, "password": USER_PASSWORD}, timeout=30)
    assert reply.json()["success"], reply.text
    return USER


def _option(root: httpx.Client, key: str, value: str) -> None:
    reply = root.put("/api/option", json={"key": key, "value": value})
    assert reply.json()["success"], reply.text


def test_home_shows_system_info_and_the_notice_once(page: Page, root: httpx.Client) -> None:
    _option(root, "Notice", "**Maintenance** on Sunday")
    page.goto("/")
    dialog = page.get_by_role("dialog", name="Notice")
    expect(dialog).to_be_visible()
    expect(dialog.locator("strong", has_text="Maintenance")).to_be_visible()
    expect(page.get_by_test_id("version")).not_to_be_empty()
    shot(page, "home-notice")
    dialog.get_by_role("button").first.click()
    expect(dialog).to_have_count(0)
    shot(page, "home")

    page.reload()
    expect(page.get_by_test_id("version")).to_be_visible()
    expect(page.get_by_role("dialog", name="Notice")).to_have_count(0)

    _option(root, "Notice", "New prices from Monday")
    page.reload()
    expect(page.get_by_role("dialog", name="Notice")).to_contain_text("New prices from Monday")
    _option(root, "Notice", "")


def test_home_and_about_show_the_operators_content(page: Page, root: httpx.Client) -> None:
    page.goto("/about")
    expect(page.get_by_role("link", name="https://github.com/songquanpeng/one-api")).to_be_visible()
    _option(root, "HomePageContent", "# Welcome to Acme AI\n\n<script>alert(1)</script>Plain text")
    _option(root, "About", "Run by **Acme**")
    try:
        page.goto("/")
        expect(page.get_by_role("heading", name="Welcome to Acme AI")).to_be_visible()
        expect(page.get_by_test_id("version")).to_have_count(0)
        page.goto("/about")
        expect(page.locator("strong", has_text="Acme")).to_be_visible()
    finally:
        _option(root, "HomePageContent", "")
        _option(root, "About", "")


def test_redeem_a_code_on_top_up(page: Page, root: httpx.Client, user: str) -> None:
    _option(root, "TopUpLink", "https://shop.example/buy")
    created = root.post("/api/redemption", json={"name": "gift", "quota": 1_000_000, "count": 1})
    key = created.json()["data"][0]
    login(page, user, USER_PASSWORD)
    page.goto("/topup")
    balance = page.get_by_test_id("balance")
    expect(balance).to_have_text("$0.00")
    expect(page.get_by_role("button", name="Buy a code")).to_be_visible()
    page.get_by_label("Redemption code").fill(key)
    page.get_by_role("button", name="Redeem").click()
    expect(balance).to_have_text("$2.00")
    expect(page.get_by_label("Redemption code")).to_have_value("")
    shot(page, "topup")

    # A used code is refused with the server's message.
    page.get_by_label("Redemption code").fill(key)
    page.get_by_role("button", name="Redeem").click()
    expect(page.get_by_text(re.compile("该兑换码已被使用"))).to_be_visible()
    expect(balance).to_have_text("$2.00")


def test_personal_settings_profile_token_and_invite(page: Page, site: Gateway, user: str) -> None:
    login(page, user, USER_PASSWORD)
    page.goto("/setting")
    page.get_by_label("Display name").fill("Dave D.")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Profile saved")).to_be_visible()

    page.get_by_role("button", name="Generate access token").click()
    token = page.get_by_test_id("access-token")
    expect(token).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    me = httpx.get(site.url + "/api/user/self", headers={"Authorization": token.inner_text()},
                   timeout=30).json()["data"]
    assert me["display_name"] == "Dave D."
    expect(page.get_by_label("Invite link")).to_have_value(
        re.compile(rf"/register\?aff={re.escape(me['aff_code'])}$"))
    shot(page, "personal-settings")


def test_chat_frames_the_chat_link(page: Page, site: Gateway, root: httpx.Client,
                                   user: str) -> None:
    chat = site.url + "/about"  # any page of ours: there is no network in tests
    _option(root, "ChatLink", chat)
    try:
        login(page, user, USER_PASSWORD)
        page.get_by_role("link", name="Chat").click()
        expect(page.get_by_title("Chat")).to_have_attribute("src", chat)
    finally:
        _option(root, "ChatLink", "")
