"""Environment variables read by the core, with their defaults (the README lists them all).

Each reader parses its variable when called, so tests and applications can change the
environment before building a tracker; a malformed value fails with
``ImproperlyConfigured`` naming the variable.
"""

from __future__ import annotations

import os

from eventtracking.exceptions import ImproperlyConfigured

SPAN_EVENTS = "EVENTTRACKING_SPAN_EVENTS"
WARNING_INTERVAL = "EVENTTRACKING_WARNING_INTERVAL"
EXPORTERS = "EVENTTRACKING_EXPORTERS"
BUFFER_SIZE = "EVENTTRACKING_BUFFER_SIZE"
BATCH_SIZE = "EVENTTRACKING_BATCH_SIZE"
SCHEDULE_DELAY_MILLIS = "EVENTTRACKING_SCHEDULE_DELAY_MILLIS"
RETRY_MAX_BACKOFF_SECONDS = "EVENTTRACKING_RETRY_MAX_BACKOFF_SECONDS"
RETRY_TIMEOUT_SECONDS = "EVENTTRACKING_RETRY_TIMEOUT_SECONDS"
PROPAGATE_KEYS = "EVENTTRACKING_PROPAGATE_KEYS"
ACCEPT_BAGGAGE_KEYS = "EVENTTRACKING_ACCEPT_BAGGAGE_KEYS"
LOGGER_NAME = "EVENTTRACKING_LOGGER_NAME"
LOGGER_LEVEL = "EVENTTRACKING_LOGGER_LEVEL"
LOGGER_MAX_EVENT_SIZE = "EVENTTRACKING_LOGGER_MAX_EVENT_SIZE"
LOGGER_FILE = "EVENTTRACKING_LOGGER_FILE"
MONGODB_URI = "EVENTTRACKING_MONGODB_URI"
MONGODB_DATABASE = "EVENTTRACKING_MONGODB_DATABASE"
MONGODB_COLLECTION = "EVENTTRACKING_MONGODB_COLLECTION"
SEGMENT_WRITE_KEY = "EVENTTRACKING_SEGMENT_WRITE_KEY"
SEGMENT_HOST = "EVENTTRACKING_SEGMENT_HOST"
CELERY_MAX_RETRIES = "EVENTTRACKING_CELERY_MAX_RETRIES"
CELERY_RETRY_COUNTDOWN = "EVENTTRACKING_CELERY_RETRY_COUNTDOWN"
SESSION_HASH_KEY = "EVENTTRACKING_SESSION_HASH_KEY"
TRUSTED_PROXY_COUNT = "EVENTTRACKING_TRUSTED_PROXY_COUNT"
FLASK_USER_GETTER = "EVENTTRACKING_FLASK_USER_GETTER"
# Event types and the browser client (eventtracking.registry, .validation, .browser).
STRICT = "EVENTTRACKING_STRICT"
VALIDATE = "EVENTTRACKING_VALIDATE"
MAX_EVENT_SIZE = "EVENTTRACKING_MAX_EVENT_SIZE"
BROWSER_MAX_BODY_BYTES = "EVENTTRACKING_BROWSER_MAX_BODY_BYTES"
BROWSER_MAX_EVENTS = "EVENTTRACKING_BROWSER_MAX_EVENTS"
BROWSER_NAME_PATTERN = "EVENTTRACKING_BROWSER_NAME_PATTERN"
MONGODB_METADATA_COLLECTION = "EVENTTRACKING_MONGODB_METADATA_COLLECTION"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def boolean(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def number(name: str, default: float, *, minimum: float = 0, integer: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r}; use one of {', '.join(choices)}.")
    return raw


def text(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def names(name: str) -> list[str] | None:
    """A comma-separated list, or None when the variable is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def span_events() -> bool:
    return boolean(SPAN_EVENTS, True)


def warning_interval() -> float:
    return number(WARNING_INTERVAL, 60.0)
