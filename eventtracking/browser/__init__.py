"""The browser client (``tracker.js``, ``Tracker.emit(name, data)``) and the server side of its batches.

The script batches events and posts them to an endpoint (the Django view in
``eventtracking.django.views``, or the Flask blueprint in ``eventtracking.browser.flask``), which
uses this module to check the batch and emit each event through the tracker.

A batch is JSON, ``{"events": [{"name": "...", "data": {...}, "context": {...}, "timestamp": "..."}]}``,
sent as ``application/json`` or, as the script sends it (``navigator.sendBeacon`` cannot set
headers, so the CSRF token travels in the form), as the form field ``events`` of an
``application/x-www-form-urlencoded`` body. The endpoint rejects, with a 4xx status and a reason:
a body over ``max_body_bytes`` (413), more than ``max_events`` events (413), another content type
(415), malformed JSON or a batch of the wrong shape (400), and a name that does not match
``name_pattern``, is longer than 128 characters or starts with ``eventtracking.`` (400). The whole
batch is rejected, so a client bug shows at once.

Trust: each event is emitted with ``origin: "client"`` in its context and everything the client
sent as context under the single key ``client`` (``client.page``, ``client.timestamp``, ...), so a
client can never set ``user_id``, ``ip`` or any other top-level key: those come from the server's
request context, entered by the instrumentation, or by the endpoint itself when the
instrumentation is not active.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from eventtracking import config
from eventtracking.validation import InvalidEvent

__all__ = [
    "CLIENT_CONTEXT_NAME",
    "EVENTS_FIELD",
    "ORIGIN",
    "ClientEvent",
    "Limits",
    "Rejected",
    "batch_text",
    "check_length",
    "emit_batch",
    "parse_events",
    "script",
]

ORIGIN = "client"
CLIENT_CONTEXT_NAME = "eventtracking.client"
EVENTS_FIELD = "events"
RESERVED_PREFIX = "eventtracking."
MAX_NAME_LENGTH = 128
MAX_TIMESTAMP_LENGTH = 64
DEFAULT_MAX_BODY_BYTES = 65536  # what navigator.sendBeacon may send at once
DEFAULT_MAX_EVENTS = 50
DEFAULT_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"


class Rejected(Exception):
    """A batch the endpoint refuses: ``status`` (4xx) and ``reason`` go back to the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """What an endpoint accepts; ``from_env`` reads the ``EVENTTRACKING_BROWSER_*`` variables."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_events: int = DEFAULT_MAX_EVENTS
    name_pattern: str = DEFAULT_NAME_PATTERN
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.name_pattern)
        except re.error as error:
            raise ValueError(f"Browser endpoint: name pattern {self.name_pattern!r} is invalid: {error}") from None
        if self.max_body_bytes < 1 or self.max_events < 1:
            raise ValueError("Browser endpoint: max_body_bytes and max_events must be at least 1.")
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        """The limits from the environment, with ``overrides`` (keyword per field) on top."""
        settings = {
            "max_body_bytes": int(
                config.number(config.BROWSER_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, minimum=1, integer=True)
            ),
            "max_events": int(config.number(config.BROWSER_MAX_EVENTS, DEFAULT_MAX_EVENTS, minimum=1, integer=True)),
            "name_pattern": config.text(config.BROWSER_NAME_PATTERN, DEFAULT_NAME_PATTERN),
        }
        settings.update(overrides)
        return cls(**settings)

    def allows_name(self, name: str) -> bool:
        """Whether a client may emit events named ``name``."""
        return (
            len(name) <= MAX_NAME_LENGTH
            and not name.startswith(RESERVED_PREFIX)
            and self._compiled.fullmatch(name) is not None
        )


@dataclass(frozen=True)
class ClientEvent:
    """One event of a batch, checked: what ``emit_batch`` emits."""

    name: str
    data: dict[str, Any]
    context: dict[str, Any]


def check_length(length: int | str | None, limits: Limits) -> None:
    """Reject a body whose declared length is over the limit, before reading it."""
    try:
        declared = int(length) if length not in (None, "") else None
    except (TypeError, ValueError):
        raise Rejected(400, f"Content-Length {length!r} is not a number.") from None
    if declared is not None and declared > limits.max_body_bytes:
        raise Rejected(413, f"The body is {declared} bytes; at most {limits.max_body_bytes} are accepted.")


def batch_text(body: bytes, content_type: str | None, limits: Limits) -> tuple[str, dict[str, str]]:
    """The batch's JSON text and the form fields (empty for a JSON body) of a request body."""
    if len(body) > limits.max_body_bytes:
        raise Rejected(413, f"The body is {len(body)} bytes; at most {limits.max_body_bytes} are accepted.")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "The body is not UTF-8.") from None
    if media_type == JSON_TYPE:
        return text, {}
    if media_type == FORM_TYPE:
        form = {key: items[-1] for key, items in parse_qs(text, keep_blank_values=True).items()}
        if EVENTS_FIELD not in form:
            raise Rejected(400, f"The form has no {EVENTS_FIELD!r} field.")
        return form[EVENTS_FIELD], form
    raise Rejected(415, f"Content type {media_type or 'none'!r}; send {JSON_TYPE} or {FORM_TYPE}.")


def parse_events(text: str, limits: Limits) -> list[ClientEvent]:
    """The events of a batch, or ``Rejected`` naming the first problem."""
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise Rejected(400, f"The batch is not valid JSON: {error}.") from None
    events = payload.get(EVENTS_FIELD) if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise Rejected(400, f'The batch must be an object with a list of events: {{"{EVENTS_FIELD}": [...]}}.')
    if len(events) > limits.max_events:
        raise Rejected(413, f"The batch has {len(events)} events; at most {limits.max_events} are accepted.")
    return [_client_event(index, item, limits) for index, item in enumerate(events)]


def _client_event(index: int, item: Any, limits: Limits) -> ClientEvent:
    if not isinstance(item, dict):
        raise Rejected(400, f"Event {index} is not an object.")
    name = item.get("name")
    if not isinstance(name, str) or not limits.allows_name(name):
        raise Rejected(
            400,
            f"Event {index}: name {name!r} is not allowed: it must match {limits.name_pattern!r}, be at most "
            f"{MAX_NAME_LENGTH} characters and not start with {RESERVED_PREFIX!r}.",
        )
    data = item.get("data", {})
    context = item.get("context", {})
    if not isinstance(data, dict) or not isinstance(context, dict):
        raise Rejected(400, f"Event {index} ({name}): data and context must be objects.")
    timestamp = item.get("timestamp")
    if timestamp is not None:
        if not isinstance(timestamp, str) or len(timestamp) > MAX_TIMESTAMP_LENGTH:
            raise Rejected(400, f"Event {index} ({name}): timestamp must be a short ISO-8601 string.")
        context = {**context, "timestamp": timestamp}
    return ClientEvent(name, data, context)


def emit_batch(
    tracker: Any,
    events: Iterable[ClientEvent],
    request_context: Callable[[], Mapping[str, Any]],
) -> int:
    """Emit each event with ``origin: "client"`` and its client context under ``client``; returns the count.

    ``request_context`` gives the server's view of the request; it is entered only when the
    instrumentation has not entered one already (its request context is the authority). With a
    strict tracker, an event that fails a check of its registration stops the batch with a 400.
    """
    from eventtracking.instrumentation.request_context import REQUEST_CONTEXT_NAME, enter_request_context

    enter_request = REQUEST_CONTEXT_NAME not in tracker.located_context
    if enter_request:
        enter_request_context(tracker, request_context())
    emitted = 0
    try:
        for event in events:
            with tracker.context(CLIENT_CONTEXT_NAME, {"origin": ORIGIN, "client": event.context}):
                try:
                    tracker.emit(event.name, event.data)
                except InvalidEvent as invalid:
                    reason = f"Event {emitted} ({event.name}) does not match its registration: {invalid}"
                    raise Rejected(400, reason) from invalid
            emitted += 1
    finally:
        if enter_request:
            tracker.exit_context(REQUEST_CONTEXT_NAME)
    return emitted


@cache
def script() -> bytes:
    """The browser client, ``tracker.js``."""
    return resources.files(__name__).joinpath("tracker.js").read_bytes()
