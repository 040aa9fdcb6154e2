"""Sign-in pages: login (root's default-password warning, server errors), sign-up with
an invite code, the password change in Personal settings, and the Chinese labels."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway

NEW_ROOT_PASSWORD = "n3w-root-pass"


@pytest.fixture(scope="module", autouse=True)
def _gateway_first(site: Gateway) -> Gateway:
    """Start the gateway before the browser: its seeding runs an event loop of its own,
    which cannot start once Playwright's is running."""
    return site


@contextlib.contextmanager
def _session(site: Gateway, username: str, password: str) -> Iterator[httpx.Client]:
    """An API client signed in as `username`."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        reply = client.post("/api/user/login", json={"username": username, "password": password})
        assert reply.json()["success"], reply.text
        yield client


def _log_out(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_wrong_password_shows_the_servers_error(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    shot(page, "login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_text("用户名或密码错误，或用户已被封禁")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)


def test_login_page_speaks_chinese(page: Page) -> None:
    page.goto("/login")
    page.get_by_text("中文", exact=True).click()
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="忘记密码？")).to_be_visible()


def test_register_with_invite_code_then_log_in(page: Page, site: Gateway) -> None:
    with _session(site, "root", ROOT_PASSWORD) as root:
        aff = root.get("/api/user/aff").json()["data"]
    page.goto(f"/register?aff={aff}")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Confirm password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("The password must have 8 to 20 characters")).to_be_visible()

    page.get_by_label("Password", exact=True).fill("carol-pass-1")
    page.get_by_label("Confirm password").fill("carol-pass-1")
    shot(page, "register")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/login$"))

    login(page, "carol", "carol-pass-1")
    expect(page.get_by_role("link", name="Channels")).to_have_count(0)
    with _session(site, "carol", "carol-pass-1") as carol:
        me = carol.get("/api/user/self").json()["data"]
    assert me["inviter_id"] == 1  # root


def test_guard_returns_to_the_page_asked_for(page: Page) -> None:
    page.goto("/topup")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password", exact=True).fill(ROOT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/topup$"))


def test_oauth_callback_shows_the_servers_refusal(page: Page, console: ConsoleWatch) -> None:
    console.allow("403")  # the browser logs the refused /api/oauth/github call
    page.goto("/oauth/github?code=abc&state=forged")
    expect(page.get_by_text("Sign-in failed")).to_be_visible()
    expect(page.get_by_text("state is empty or not same")).to_be_visible()
    page.get_by_role("link", name="Back to log in").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_root_changes_the_default_password(page: Page, site: Gateway) -> None:
    # Last in this module: root keeps the new password (123456 is too short to set back).
    login(page, "root", ROOT_PASSWORD)
    warning = page.get_by_test_id("default-password-warning")
    expect(warning).to_be_visible()
    warning.get_by_role("link", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/setting$"))
    expect(page.get_by_test_id("default-password-alert")).to_be_visible()

    page.get_by_label("New password", exact=True).fill(NEW_ROOT_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_ROOT_PASSWORD + "x")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The two passwords differ")).to_be_visible()
    page.get_by_label("Confirm new password").fill(NEW_ROOT_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed")).to_be_visible()
    expect(page.get_by_test_id("default-password-alert")).to_have_count(0)

    _log_out(page)
    login(page, "root", NEW_ROOT_PASSWORD)
    expect(page.get_by_test_id("default-password-warning")).to_have_count(0)
    # The old password no longer works.
    with httpx.Client(base_url=site.url, timeout=30) as client:
        old = client.post("/api/user/login", json={"username": "root", "password": ROOT_PASSWORD})
        assert old.json()["success"] is False
