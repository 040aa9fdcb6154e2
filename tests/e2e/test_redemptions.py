"""Redemption codes page: create a batch of three, see them in the dialog (copy all,
download .txt) and in the list, disable one, and redeem another to prove they are real."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.e2e.toasts import clean_shot
from tests.relay_support import Gateway


def test_admin_creates_three_codes(site: Gateway, page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page, "root", ROOT_PASSWORD)
    page.goto("/redemption")
    page.get_by_role("link", name="Create codes").click()
    page.get_by_label("Name").fill("e2e-promo")
    page.get_by_label("Quota").fill("500000")
    expect(page.get_by_text("Each code adds $1.00")).to_be_visible()
    page.get_by_label("Count").fill("3")
    page.get_by_role("button", name="Create").click()

    dialog = page.get_by_role("dialog", name="3 codes created")
    codes = dialog.get_by_test_id("created-key")
    expect(codes).to_have_count(3)
    keys = codes.all_inner_texts()
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys), keys

    shot(page, "redemption-created")
    dialog.get_by_role("button", name="Copy all").click()
    expect(page.get_by_text("Copied to the clipboard")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(keys) + "\n"
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download .txt").click()
    saved = download.value.path()
    assert saved is not None and saved.read_text().split() == keys

    dialog.get_by_role("button", name="Close").first.click()
    expect(page).to_have_url(re.compile(r"/redemption$"))
    for key in keys:
        expect(page.get_by_role("row").filter(has_text=key)).to_contain_text("Unused")
    clean_shot(page, "redemptions")

    first = page.get_by_role("row").filter(has_text=keys[0])
    first.get_by_role("button", name="Disable").click()
    expect(first).to_contain_text("Disabled")

    # Root redeems the second code: it is worth $1.00 and then shows as used.
    with httpx.Client(base_url=site.url) as client:
        assert client.post("/api/user/login",
                           json={"username": "root", "password": ROOT_PASSWORD}).json()["success"]
        redeemed = client.post("/api/user/topup", json={"key": keys[1]}).json()
        assert redeemed == {"success": True, "message": "", "data": 500000}
        # The disabled code is refused.
        assert not client.post("/api/user/topup", json={"key": keys[0]}).json()["success"]
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("row").filter(has_text=keys[1])).to_contain_text("Used")
