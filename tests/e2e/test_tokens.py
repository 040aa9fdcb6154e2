"""Tokens page: create a limited token that expires tomorrow, copy its key (and a chat-app
link) from the list, prove the key works against /v1, then disable and delete it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.e2e.toasts import clean_shot, dismiss_toasts
from tests.relay_support import Gateway


def _clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def _models(site: Gateway, key: str) -> httpx.Response:
    return httpx.get(site.url + "/v1/models", headers={"Authorization": f"Bearer {key}"})


SERVER_ADDRESS = "https://gateway.example.com"


def _set_server_address(site: Gateway) -> None:
    with httpx.Client(base_url=site.url) as root:
        root.post("/api/user/login", json={"username": "root", "password": ROOT_PASSWORD})
        reply = root.put("/api/option/", json={"key": "ServerAddress", "value": SERVER_ADDRESS})
        assert reply.json()["success"], reply.text


def test_root_creates_copies_disables_and_deletes_a_token(site: Gateway, page: Page) -> None:
    _set_server_address(site)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "root", ROOT_PASSWORD)
    page.goto("/token")
    page.get_by_role("link", name="Add token").click()
    expect(page.get_by_role("heading", name="Create token")).to_be_visible()

    # The editor refuses a bad subnet before anything is sent.
    page.get_by_label("Name").fill("e2e-key")
    page.get_by_label("IP subnets").fill("10.0.0.1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter CIDRs such as")).to_be_visible()
    page.get_by_label("IP subnets").fill("")

    page.get_by_label("Remaining quota").fill("250000")
    expect(page.get_by_text("Equals $0.50")).to_be_visible()
    page.get_by_role("button", name="+1 day").click()
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    expect(page.get_by_label("Expires at")).to_have_value(re.compile("^" + tomorrow))
    shot(page, "token-editor")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/token$"))
    row = page.get_by_role("row").filter(has_text="e2e-key")
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("$0.50")
    expect(row).to_contain_text(tomorrow)
    clean_shot(page, "tokens")

    row.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_text("Copied to the clipboard").first).to_be_visible()
    key = _clipboard(page)
    assert re.fullmatch(r"sk-[0-9A-Za-z]{48}", key), key
    assert _models(site, key).status_code == 200
    assert _models(site, key[:-1] + "x").status_code == 401

    # A chat-app link carries the same key and the configured ServerAddress.
    dismiss_toasts(page)
    row.get_by_role("button", name="Copy as a chat-app link").click()
    page.get_by_role("menuitem", name="OpenCat").click()
    expect(page.get_by_text("Copied to the clipboard")).to_be_visible()
    domain = quote(SERVER_ADDRESS, safe="")
    assert _clipboard(page) == f"opencat://team/join?domain={domain}&token={key}"

    page.get_by_label("Search tokens").fill("no-such")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Nothing here yet")).to_be_visible()
    page.get_by_label("Search tokens").fill("e2e")
    page.get_by_role("button", name="Search").click()
    expect(row).to_be_visible()

    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("Disabled")
    assert _models(site, key).status_code == 401

    row.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    expect(row).to_have_count(0)
    page.reload()
    expect(page.get_by_role("heading", name="Tokens")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="e2e-key")).to_have_count(0)
