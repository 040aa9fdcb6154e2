"""Channels pages: add an OpenAI channel through the editor, test it against the fake
upstream, edit priority/weight inline, toggle it, and the editor's per-type fields and
model-mapping check."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from playwright.sync_api import Page, Response, expect
from sqlalchemy import select

from oneapi.db.models import Channel
from tests.e2e.support import ROOT_PASSWORD, login, shot
from tests.relay_support import Gateway
from tests.seed import Seeder

NAME = "fake-openai"
T = TypeVar("T")
TIMED = re.compile(r"^(\d+ ms|\d+\.\d\d s)$")  # a response time was recorded


async def channels_named(s: Seeder, name: str) -> list[Channel]:
    async with s.db.session() as session:
        return list((await session.execute(select(Channel).where(Channel.name == name))).scalars())


def in_thread(site: Gateway, fn: Callable[[Seeder], Awaitable[T]]) -> T:
    """site.db from another thread: Playwright's event loop owns this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(site.db, fn).result()


def saves(field: str) -> Callable[[Response], bool]:
    """Matches the PUT /api/channel/ that writes `field`."""
    return lambda r: r.request.method == "PUT" and f'"{field}"' in (r.request.post_data or "")


def choose_type(page: Page, label: str) -> None:
    page.get_by_role("combobox", name="Type").click()
    page.get_by_role("option", name=label).click()


def test_add_test_and_edit_a_channel(site: Gateway, page: Page) -> None:
    login(page, "root", ROOT_PASSWORD)
    page.goto("/channel/add")
    page.get_by_label("Name").fill(NAME)

    # A type with extra fields shows them; back to OpenAI hides them again.
    choose_type(page, "Azure OpenAI (3)")
    expect(page.get_by_label("Azure endpoint")).to_be_visible()
    expect(page.get_by_label("API version")).to_be_visible()
    choose_type(page, "OpenAI (1)")
    expect(page.get_by_label("Azure endpoint")).to_have_count(0)

    page.get_by_label("Proxy / base URL (optional)").fill(site.fake.base_url)
    page.get_by_label("Custom models").fill("gpt-4o-mini, gpt-3.5-turbo")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_label(re.compile(r"^Key\b")).fill("sk-fake-1")

    # Bad model mappings are refused before anything is sent.
    mapping = page.get_by_label("Model mapping")
    mapping.fill('{"gpt-4o-mini": 1}')
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text('the target of “gpt-4o-mini” must be a string').first).to_be_visible()
    mapping.fill("{oops")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Model mapping is not valid JSON").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/channel/add$"))
    mapping.fill('{"gpt-4o-mini": "gpt-3.5-turbo"}')
    shot(page, "channel-editor")
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/channel$"))
    row = page.get_by_role("row").filter(has_text=NAME)
    expect(row).to_be_visible()
    expect(row.get_by_test_id("response-time")).to_have_text("Not tested")

    # The test reaches the fake upstream and the response time appears.
    row.get_by_role("button", name=f"Test {NAME}").click()
    expect(row.get_by_test_id("response-time")).to_have_text(TIMED)
    # the default test model is the first one, sent upstream through the mapping
    assert site.fake.requests[-1].json["model"] == "gpt-3.5-turbo"

    # Inline priority and weight edits are saved and survive a reload.
    for field, value in (("priority", "5"), ("weight", "3")):
        label = f"{field.capitalize()} of {NAME}"
        with page.expect_response(saves(field)):
            page.get_by_label(label).fill(value)
            page.get_by_label(label).press("Enter")
    page.reload()
    expect(page.get_by_label(f"Priority of {NAME}")).to_have_value("5")
    expect(page.get_by_label(f"Weight of {NAME}")).to_have_value("3")
    expect(row.get_by_test_id("response-time")).to_have_text(TIMED)

    # Disable, then enable again; both persist.
    row.get_by_role("button", name=f"Disable {NAME}").click()
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    page.reload()
    expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    row.get_by_role("button", name=f"Enable {NAME}").click()
    expect(row.get_by_text("Enabled", exact=True)).to_be_visible()
    page.reload()  # the table scrolled sideways to the buttons: show it from its start
    expect(row.get_by_test_id("response-time")).to_have_text(TIMED)
    shot(page, "channels")

    saved = in_thread(site, lambda s: channels_named(s, NAME))
    assert len(saved) == 1
    assert (saved[0].priority, saved[0].weight, saved[0].status) == (5, 3, 1)
    assert saved[0].key == "sk-fake-1"
    assert saved[0].model_mapping == '{"gpt-4o-mini":"gpt-3.5-turbo"}'


def test_disabled_channels_batch_create_and_copy(site: Gateway, page: Page) -> None:
    async def seed(s: Seeder) -> None:
        await s.channel(site.fake.base_url, name="auto-off", status=3)
        await s.channel(site.fake.base_url, name="manual-off", status=2)

    in_thread(site, seed)
    login(page, "root", ROOT_PASSWORD)
    page.goto("/channel")
    auto = page.get_by_role("row").filter(has_text="auto-off")
    manual = page.get_by_role("row").filter(has_text="manual-off")
    expect(auto.get_by_text("Auto-disabled", exact=True)).to_be_visible()
    expect(manual.get_by_text("Disabled", exact=True)).to_be_visible()

    page.get_by_label("Search channels").fill("auto")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 found")).to_be_visible()
    expect(manual).to_have_count(0)
    page.get_by_role("button", name="Show all").click()
    expect(manual).to_be_visible()

    # Testing the disabled channels runs in the background; progress, then results.
    page.get_by_role("button", name="Test disabled channels").click()
    expect(page.get_by_test_id("test-progress")).to_be_visible()
    expect(page.get_by_text("Channel tests finished")).to_be_visible()
    expect(page.get_by_test_id("test-progress")).to_have_count(0)
    for row in (auto, manual):
        expect(row.get_by_test_id("response-time")).to_have_text(TIMED)

    page.get_by_role("button", name="Delete disabled channels").click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Deleted 2 disabled channel(s)")).to_be_visible()
    expect(auto).to_have_count(0)
    expect(manual).to_have_count(0)

    # Batch mode: one channel per key line.
    page.goto("/channel/add")
    page.get_by_label("Name").fill("batch")
    page.get_by_label("Proxy / base URL (optional)").fill(site.fake.base_url)
    page.get_by_label("Custom models").fill("gpt-3.5-turbo")
    page.get_by_label("Custom models").press("Enter")
    page.get_by_label("Batch create (one key per line)").check()
    page.get_by_label(re.compile(r"^Keys")).fill("sk-b1\n\nsk-b2\n")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Created 2 channel(s)")).to_be_visible()
    batch = page.get_by_role("row").filter(has_text="batch")
    expect(batch).to_have_count(2)

    # Copy clones the settings into the editor; the key must be given again.
    batch.first.get_by_role("button", name="More actions for batch").click()
    page.get_by_role("menuitem", name="Copy into a new channel").click()
    expect(page.get_by_label("Name")).to_have_value("batch (copy)")
    expect(page.get_by_label("Proxy / base URL (optional)")).to_have_value(site.fake.base_url)
    page.get_by_label(re.compile(r"^Key\b")).fill("sk-b3")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("row").filter(has_text="batch (copy)")).to_be_visible()
    keys = sorted(c.key for c in in_thread(site, lambda s: channels_named(s, "batch")))
    assert keys == ["sk-b1", "sk-b2"]
