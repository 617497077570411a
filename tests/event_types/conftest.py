"""Fixtures of the event-type tests: a fresh module-level registry (headless Chromium is in tests/peers/chromium.py)."""

from __future__ import annotations

import pytest

from eventtracking import tracker as tracker_module
from eventtracking.registry import Registry


@pytest.fixture(autouse=True)
def _fresh_default_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Types registered with the module-level register() stay in this test."""
    monkeypatch.setattr(tracker_module, "DEFAULT_TYPES", Registry())
