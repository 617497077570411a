"""The app in a real Django start-up (a subprocess): INSTALLED_APPS builds the default tracker, or fails early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.django_app.support import documented_async_backends

ROOT = Path(__file__).resolve().parents[2]

# What a WSGI/ASGI server or manage.py does first, then an event emitted by the app.
STARTUP = """
import django
django.setup()
from django.apps import apps
from eventtracking import tracker
print(apps.get_app_config("eventtracking_django").name)
print(type(tracker.get_tracker()).__name__)
tracker.emit("app.started", {"ok": True})
"""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
    "loggers": {"tracking": {"handlers": ["stdout"], "level": "INFO", "propagate": False}},
}


def start_django(tmp_path: Path, **settings: object) -> subprocess.CompletedProcess[str]:
    """Run STARTUP under a settings module holding ``settings`` plus the app and the logging above."""
    settings = {"INSTALLED_APPS": ["eventtracking.django"], "USE_TZ": True, "LOGGING": LOGGING, **settings}
    module = "".join(f"{name} = {value!r}\n" for name, value in settings.items())
    (tmp_path / "startup_settings.py").write_text(module)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "startup_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "EVENTTRACKING_EXPORTERS": "",
    }
    return subprocess.run(
        [sys.executable, "-c", STARTUP], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


LOGGER_BACKENDS = {
    "logger": {"ENGINE": "eventtracking.backends.logger.LoggerBackend", "OPTIONS": {"name": "tracking"}},
}


def test_the_installed_app_makes_the_default_tracker_from_settings(tmp_path):
    started = start_django(tmp_path, EVENT_TRACKING_ENABLED=True, EVENT_TRACKING_BACKENDS=LOGGER_BACKENDS)

    assert started.returncode == 0, started.stderr
    app_name, tracker_type, line = started.stdout.splitlines()
    assert (app_name, tracker_type) == ("eventtracking.django", "DjangoTracker")
    event = json.loads(line)
    assert (event["name"], event["data"], event["context"]) == ("app.started", {"ok": True}, {})


def test_without_enabled_the_app_leaves_the_default_tracker_alone(tmp_path):
    started = start_django(tmp_path, EVENT_TRACKING_BACKENDS=LOGGER_BACKENDS)

    assert started.returncode == 0, started.stderr
    assert started.stdout.splitlines() == ["eventtracking.django", "Tracker"]


@pytest.mark.parametrize(
    ("backends", "message"),
    [
        (
            {"logger": {"ENGINE": "eventtracking.backends.loggers.LoggerBackend"}},
            "EVENT_TRACKING_BACKENDS['logger']['ENGINE']: cannot import 'eventtracking.backends.loggers'",
        ),
        (
            {"logger": {"ENGINE": "eventtracking.backends.logger.LoggerBackend", "OPTIONS": {"level": "loud"}}},
            "EVENT_TRACKING_BACKENDS['logger']: eventtracking.backends.logger.LoggerBackend(**OPTIONS) failed: "
            "ImproperlyConfigured: Logger exporter: 'loud' is not a logging level",
        ),
        (
            {
                "async_routing_backend": {
                    **documented_async_backends()["async_routing_backend"],
                    "OPTIONS": {
                        **documented_async_backends()["async_routing_backend"]["OPTIONS"],
                        "processors": [
                            {
                                "ENGINE": "eventtracking.processors.regex_filter.RegexFilter",
                                "OPTIONS": {"filter_type": "allowlist", "regular_expressions": ["edx.course.[a-"]},
                            }
                        ],
                    },
                }
            },
            "EVENT_TRACKING_BACKENDS['async_routing_backend']['OPTIONS']['processors'][0]: "
            "eventtracking.processors.regex_filter.RegexFilter(**OPTIONS) failed: ImproperlyConfigured: "
            "RegexFilter: invalid regular expressions: 'edx.course.[a-'",
        ),
    ],
    ids=["wrong engine", "bad option", "bad regex"],
)
def test_a_wrong_setting_stops_django_from_starting(tmp_path, backends, message):
    started = start_django(tmp_path, EVENT_TRACKING_ENABLED=True, EVENT_TRACKING_BACKENDS=backends)

    assert started.returncode != 0
    assert started.stdout == ""
    last_line = started.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"eventtracking.django.django_tracker.SettingsError: {message}"), started.stderr
