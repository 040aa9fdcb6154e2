"""Close the app's toasts: so a screenshot shows the page under them, and so the next
"Copied" toast a test waits for is a new one."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.support import shot


def dismiss_toasts(page: Page) -> None:
    for close in page.locator(".mantine-Notification-closeButton").all():
        close.click()
    expect(page.locator(".mantine-Notification-root")).to_have_count(0)


def clean_shot(page: Page, name: str) -> None:
    """`shot` after dismissing every notification (they cover the page header)."""
    dismiss_toasts(page)
    shot(page, name)
