"""Users page: an admin adds a user, sets its quota, disables it (it can no longer log
in) and enables it again."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.support import ROOT_PASSWORD, login
from tests.e2e.toasts import clean_shot
from tests.relay_support import Gateway


def _can_log_in(site: Gateway, username: str, password: str) -> bool:
    reply = httpx.post(site.url + "/api/user/login",
                       json={"username": username, "password": password})
    return bool(reply.json()["success"])


def test_admin_adds_edits_disables_and_enables_a_user(site: Gateway, page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.goto("/user")
    page.get_by_role("link", name="Add user").click()
    page.get_by_label("Username").fill("e2ebob")
    page.get_by_role("textbox", name="Password").fill("short")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("The password must be 8-20 characters")).to_be_visible()
    page.get_by_role("textbox", name="Password").fill("bobpass123")
    page.get_by_label("Display name").fill("Bob")
    page.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/user$"))
    row = page.get_by_role("row").filter(has_text="e2ebob")
    expect(row).to_contain_text("Enabled")
    assert _can_log_in(site, "e2ebob", "bobpass123")

    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Username")).to_have_value("e2ebob")
    group = page.get_by_role("combobox", name="Group")
    expect(group).to_have_value("default")
    group.click()
    page.get_by_role("option", name="vip", exact=True).click()
    page.get_by_label("Quota").fill("1000000")
    expect(page.get_by_text("Equals $2.00")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/user$"))
    expect(row).to_contain_text("$2.00")
    expect(row).to_contain_text("vip")
    clean_shot(page, "users")

    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("Disabled")
    assert not _can_log_in(site, "e2ebob", "bobpass123")
    row.get_by_role("button", name="Enable").click()
    expect(row).to_contain_text("Enabled")
    assert _can_log_in(site, "e2ebob", "bobpass123")
