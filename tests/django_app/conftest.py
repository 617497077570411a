"""Fixtures for the Django app tests: settings are overridden per test on a configured Django."""

from __future__ import annotations

import pytest

from tests.django_app.support import ensure_django


@pytest.fixture(scope="session", autouse=True)
def _django() -> None:
    ensure_django()
