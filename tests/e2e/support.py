"""Browser tests of the web UI: the built SPA (frontend/dist) served by a real gateway
process in front of a fake OpenAI upstream, driven by Playwright in Debian's Chromium.

Helpers here are shared by every tests/e2e module; fixtures are in conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
ARTIFACTS = Path(os.environ.get("ONEAPI_TEST_ARTIFACTS", ROOT / "test-results")) / "screenshots"
ROOT_PASSWORD = "123456"  # the bootstrap root's default password (spec 7.1)

# Flags that keep Chromium quiet and offline on these machines (TOOLING.md).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-results/screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Page, username: str, password: str) -> None:
    """Log in through the login page and wait until the app shows the user menu."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name=re.compile(r"^Log in$", re.I)).click()
    expect(page.get_by_test_id("user-menu")).to_be_visible()
