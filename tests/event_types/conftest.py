"""Fixtures of the event-type tests: a fresh module-level registry, and headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventtracking import tracker as tracker_module
from eventtracking.registry import Registry

CHROMIUM = Path(os.environ.get("EVENTTRACKING_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def _fresh_default_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Types registered with the module-level register() stay in this test."""
    monkeypatch.setattr(tracker_module, "DEFAULT_TYPES", Registry())


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (scripts/ensure-chromium installs it).

    Per module, so that Playwright's event loop never outlives the tests that need it.
    """
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
