"""Headless Chromium for the browser tests: Debian's package at /usr/bin/chromium, driven by Playwright.

Never ``playwright install``: ``scripts/ensure-chromium`` installs the system package when it is
missing, and ``EVENTTRACKING_TEST_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("EVENTTRACKING_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless Chromium (a Playwright ``Browser``).

    Per module, so that Playwright's event loop never outlives the tests that need it.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
