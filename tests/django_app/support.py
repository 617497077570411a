"""Django, configured once per test process for the tests that need settings (django_app, celery)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.test.utils import override_settings

TRACKING_SETTINGS = ("EVENT_TRACKING_BACKENDS", "EVENT_TRACKING_PROCESSORS", "EVENT_TRACKING_ENABLED")


def ensure_django() -> None:
    """Configure minimal settings unless some other test module or DJANGO_SETTINGS_MODULE did, then set up."""
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        settings.configure(USE_TZ=True, SECRET_KEY="tests-only-secret-key")
    if not apps.ready:
        django.setup()


@contextmanager
def tracking_settings(**values: Any) -> Iterator[None]:
    """Exactly these tracking settings, the other EVENT_TRACKING_* unset, whatever the process was configured with."""
    with override_settings(**values):
        for name in TRACKING_SETTINGS:
            if name not in values:
                delattr(settings, name)
        yield


def documented_async_backends() -> dict:
    """The AsyncRoutingBackend configuration of the original documentation, as written there."""
    return {
        "async_routing_backend": {
            "ENGINE": "eventtracking.backends.async_routing.AsyncRoutingBackend",
            "OPTIONS": {
                "backend_name": "async_routing_backend",
                "processors": [
                    {
                        "ENGINE": "eventtracking.processors.regex_filter.RegexFilter",
                        "OPTIONS": {
                            "filter_type": "allowlist",
                            "regular_expressions": [r"edx\.course\.enrollment\.activated"],
                        },
                    }
                ],
                "backends": {
                    "logger": {
                        "ENGINE": "eventtracking.backends.logger.LoggerBackend",
                        "OPTIONS": {"name": "tracking", "max_event_size": 50000},
                    },
                },
            },
        },
    }
