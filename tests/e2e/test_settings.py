"""Settings: root edits options on the Operation, System and Other tabs; the shell
follows (system name in the header), invalid ratio JSON is refused in the browser before
anything is sent, and a common user gets only the Personal tab."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.conftest import ConsoleWatch, new_page
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway


def _options(site: Gateway) -> dict[str, str]:
    with httpx.Client(base_url=site.url) as root:
        root.post("/api/user/login", json={"username": "root", "password": ROOT_PASSWORD})
        return {o["key"]: o["value"] for o in root.get("/api/option/").json()["data"]}


def test_system_name_changes_the_header(site: Gateway, page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.goto("/setting?tab=other")
    name = page.get_by_label("System name")
    expect(name).to_have_value("One API")
    name.fill("Acme AI Gateway")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("banner")).to_contain_text("Acme AI Gateway")
    expect(page).to_have_title("Acme AI Gateway")
    assert _options(site)["SystemName"] == "Acme AI Gateway"

    # Markdown content has a live preview before it is saved.
    page.get_by_label("Notice").fill("Maintenance **tonight**")
    page.get_by_role("button", name="Show preview").first.click()
    expect(page.get_by_test_id("preview-Notice").locator("strong")).to_have_text("tonight")
    shot(page, "settings-other")


def test_invalid_ratio_json_is_refused_before_saving(site: Gateway, page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.goto("/setting")
    page.get_by_role("tab", name="Operation").click()
    expect(page).to_have_url(re.compile(r"tab=operation"))
    ratio = page.get_by_label("Model ratios (JSON)")
    expect(ratio).to_have_value(re.compile(r"gpt-3\.5-turbo"))
    before = _options(site)["ModelRatio"]
    puts: list[Request] = []
    page.on("request", lambda r: puts.append(r) if r.method == "PUT" else None)

    ratios = page.locator("div").filter(has=ratio).filter(
        has=page.get_by_role("button", name="Save")).last
    ratio.fill('{"gpt-4o": 2.5,')
    ratios.get_by_role("button", name="Save").click()
    expect(page.get_by_text(re.compile("^Not valid JSON"))).to_be_visible()
    ratio.fill('{"gpt-4o": -1}')
    ratios.get_by_role("button", name="Save").click()
    expect(page.get_by_text('The ratio of "gpt-4o" must not be negative')).to_be_visible()
    assert puts == []
    assert _options(site)["ModelRatio"] == before

    ratio.fill('{"gpt-4o": 2.5, "my-model": 1}')
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/option" in r.url):
        ratios.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved").first).to_be_visible()
    assert json.loads(_options(site)["ModelRatio"])["my-model"] == 1
    shot(page, "settings-operation")

    # Log cleanup asks first, then reports how many rows went.
    page.get_by_label("Delete logs before").fill("2001-01-01T00:00")
    page.get_by_role("button", name="Delete logs").click()
    with page.expect_response(lambda r: r.request.method == "DELETE" and
                              "target_timestamp=" in r.url):
        page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Deleted 0 logs")).to_be_visible()


def test_system_switches_save_at_once_and_show_refusals(site: Gateway, page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.goto("/setting?tab=system")
    register = page.get_by_label("Allow sign-up with a password")
    expect(register).to_be_checked()
    register.click(force=True)
    expect(register).not_to_be_checked()
    expect(page.get_by_text("Saved").first).to_be_visible()
    assert _options(site)["PasswordRegisterEnabled"] == "false"
    register.click(force=True)
    expect(register).to_be_checked()

    # GitHub login needs a client id first: the server's refusal is shown, nothing flips.
    github = page.get_by_label("Allow login with GitHub")
    github.click(force=True)
    expect(page.get_by_text("GitHub Client Id").first).to_be_visible()
    expect(github).not_to_be_checked()
    assert _options(site)["GitHubOAuthEnabled"] == "false"
    shot(page, "settings-system")


def test_common_user_only_has_the_personal_tab(site: Gateway, browser: Browser,
                                               console: ConsoleWatch) -> None:
    with httpx.Client(base_url=site.url) as root:
        root.post("/api/user/login", json={"username": "root", "password": ROOT_PASSWORD})
        assert root.post("/api/user/", json={"username": "carol", "password": "carol-pass-1"}
                         ).json()["success"]
    page = new_page(browser, site, console)
    try:
        login(page, "carol", "carol-pass-1")
        page.goto("/setting?tab=operation")
        expect(page.get_by_role("tab")).to_have_count(1)
        expect(page.get_by_role("tab", name="Personal")).to_have_attribute("aria-selected", "true")
    finally:
        page.context.close()
    assert not console.unexpected(), console.unexpected()
