"""The request context that the Django and Flask instrumentors enter for every request.

Both frameworks hand over the same things: a WSGI-environ-like mapping (Django's
``request.META`` is one, under WSGI and ASGI alike), the parsed cookies, the decoded path, the
user and the session key. This module turns them into the context, so the two instrumentors
record exactly the same keys by the same rules:

==================  ===========================================================================
``user_id``         the user's primary key (``pk``, else ``id``), when a user is authenticated
``username``        ``get_username()``, else ``username``, when a user is authenticated
``session``         HMAC-SHA256 (hex) of the session key, keyed with ``EVENTTRACKING_SESSION_HASH_KEY``,
                    else the framework's secret key; never the session key itself
``ip``              ``REMOTE_ADDR``; with ``EVENTTRACKING_TRUSTED_PROXY_COUNT=N`` (default 0), the
                    N-th address from the right of ``X-Forwarded-For``, when it is a valid address
``agent``           the ``User-Agent`` header
``host``            the ``Host`` header (``SERVER_NAME`` without one)
``path``            the request path (with the app's mount point), without the query string
``method``          the HTTP method
``referer``         the ``Referer`` header, without user info, query string or fragment
``accept_language`` the ``Accept-Language`` header
``client_id``       the Google Analytics client id: ``123.456`` from a ``_ga`` cookie ``GA1.2.123.456``
``request_id``      an incoming ``X-Request-ID`` when it is a plain token, else a new uuid4 hex
==================  ===========================================================================

Absent values are left out, strings are cut to ``MAX_LENGTHS``, and nothing else is read: no
cookie (beyond the client id parsed out of ``_ga``), ``Authorization`` header, query string or
request body ever reaches the context.

A request's context is exited when its response is done. A streamed body is wrapped by
``in_request_context``, so that code running while it streams (a generator view) still sees
the request's OTel Context, and the request context is exited when the server closes it.

The context is described (``REQUEST_CONTEXT``: the table above, as a context type), so an
analyst can look up what each key means: importing this module, which every instrumentor does,
registers it with the module-level ``eventtracking.tracker.register_context`` (so the default
tracker adopts it, and ``python -m eventtracking docs --module
eventtracking.instrumentation.request_context`` lists it), ``instrument()`` registers it again
if the registry was replaced since, and ``enter_request_context`` gives it to a tracker that
serves a request without knowing it. Events emitted inside a request therefore carry
``context_type_id``, and each process writes the context's metadata record once. A description
of ``eventtracking.request`` registered by the application is left in force.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context

from eventtracking import config, diagnostics, registry
from eventtracking import tracker as tracker_module
from eventtracking.registry import Metadata
from eventtracking.tracker import Tracker

__all__ = [
    "MAX_LENGTHS",
    "REQUEST_CONTEXT",
    "REQUEST_CONTEXT_NAME",
    "AsyncStreamInContext",
    "StreamInContext",
    "SyncStreamInContext",
    "client_ip",
    "enter_request_context",
    "exit_request_context",
    "in_request_context",
    "register_request_context",
    "request_context",
    "session_context",
    "user_context",
    "user_context_from",
    "user_context_from_async",
]

LOG = logging.getLogger(__name__)

REQUEST_CONTEXT_NAME = "eventtracking.request"
MAX_LENGTHS = {
    "user_id": 128,
    "username": 150,
    "ip": 64,
    "agent": 512,
    "host": 255,
    "path": 1024,
    "method": 16,
    "referer": 1024,
    "accept_language": 128,
    "client_id": 64,
}
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")
_GA_COOKIE = re.compile(r"GA\d+\.\d+\.(\d+\.\d+)")

# What the context means, for the analyst reading an event long after: its metadata (context_type_id).
REQUEST_CONTEXT = registry.describe(
    registry.CONTEXT,
    REQUEST_CONTEXT_NAME,
    "The HTTP request the event was emitted while serving, entered by the Django and Flask instrumentors "
    "(and by the browser client's endpoint): who sent it, from where, and what it asked for. The user is the "
    "one known when the request started; absent values are left out and strings are cut to a maximum length.",
    {
        "user_id": "The authenticated user's primary key (pk, else id); absent for an anonymous request.",
        "username": "The authenticated user's username (get_username(), else username); absent for an anonymous "
        "request.",
        "session": "HMAC-SHA256 (hex) of the session key, keyed with EVENTTRACKING_SESSION_HASH_KEY or the "
        "framework's secret key: the same for every request of a session, never the session key itself.",
        "ip": "The client's address: REMOTE_ADDR; behind N trusted proxies (EVENTTRACKING_TRUSTED_PROXY_COUNT), "
        "the N-th address from the right of X-Forwarded-For.",
        "agent": "The User-Agent header (at most 512 characters).",
        "host": "The Host header (SERVER_NAME without one).",
        "path": "The request path, including the app's mount point, without the query string.",
        "method": "The HTTP method.",
        "referer": "The Referer header, without user info, query string or fragment.",
        "accept_language": "The Accept-Language header.",
        "client_id": "The Google Analytics client id: 123.456 from a _ga cookie GA1.2.123.456.",
        "request_id": "The incoming X-Request-ID when it is a plain token of at most 128 characters, else a new "
        "uuid4 hex.",
    },
)


def register_request_context() -> Metadata:
    """Register ``REQUEST_CONTEXT`` with the module-level ``register_context``, unless a description is in force.

    The default tracker adopts it (now if it exists, else when it is made) and writes its metadata
    record once. An application that registers its own description of ``eventtracking.request``
    keeps it: that one is returned.
    """
    in_force = tracker_module.DEFAULT_TYPES.contexts.get(REQUEST_CONTEXT_NAME)
    if in_force is not None:
        return in_force
    return tracker_module.register_context(REQUEST_CONTEXT_NAME, REQUEST_CONTEXT.description, REQUEST_CONTEXT.fields)


def _put(context: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == "":
        return
    if isinstance(value, str):
        value = value[: MAX_LENGTHS[key]]
    context[key] = value


def request_context(environ: Mapping[str, Any], *, path: str, cookies: Mapping[str, str]) -> dict[str, Any]:
    """The context of one request, from what every request has (no user, no session)."""
    context: dict[str, Any] = {}
    _put(context, "ip", client_ip(environ))
    _put(context, "agent", environ.get("HTTP_USER_AGENT"))
    _put(context, "host", environ.get("HTTP_HOST") or environ.get("SERVER_NAME"))
    _put(context, "path", path)
    _put(context, "method", environ.get("REQUEST_METHOD"))
    _put(context, "referer", _without_secrets(environ.get("HTTP_REFERER")))
    _put(context, "accept_language", environ.get("HTTP_ACCEPT_LANGUAGE"))
    ga_cookie = _GA_COOKIE.fullmatch(cookies.get("_ga") or "")
    _put(context, "client_id", ga_cookie.group(1) if ga_cookie else None)
    incoming_id = environ.get("HTTP_X_REQUEST_ID") or ""
    context["request_id"] = incoming_id if _REQUEST_ID.fullmatch(incoming_id) else uuid.uuid4().hex
    return context


def client_ip(environ: Mapping[str, Any]) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or ``X-Forwarded-For`` as far as proxies are trusted.

    Each trusted proxy appends the address it received the request from, so with N trusted
    proxies the client is the N-th entry from the right; entries left of it are whatever the
    client chose to send. As Werkzeug's ProxyFix does, a header with fewer entries is ignored.
    """
    trusted = int(config.number(config.TRUSTED_PROXY_COUNT, 0, integer=True))
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if trusted and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        if len(addresses) >= trusted:
            candidate = addresses[-trusted]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                diagnostics.warn(
                    "bad_forwarded_for",
                    "",
                    "X-Forwarded-For entry %r is not an IP address; using REMOTE_ADDR.",
                    candidate[:64],
                )
    return environ.get("REMOTE_ADDR") or None


def _without_secrets(url: str | None) -> str | None:
    """``url`` without user info, query string or fragment, which may carry credentials or tokens."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else parts.path


def user_context(user: Any) -> dict[str, Any]:
    """``user_id`` and ``username`` of an authenticated user (a Django user, a Flask-Login user, a row)."""
    if user is None or not getattr(user, "is_authenticated", True):
        return {}
    context: dict[str, Any] = {}
    user_id = _field(user, "pk")
    if user_id is None:
        user_id = _field(user, "id")
    if user_id is not None and not isinstance(user_id, int):
        user_id = str(user_id)
    _put(context, "user_id", user_id)
    get_username = getattr(user, "get_username", None)
    username = get_username() if callable(get_username) else _field(user, "username")
    _put(context, "username", None if username is None else str(username))
    return context


def user_context_from(get_user: Callable[[], Any], source: str) -> dict[str, Any]:
    """``user_context(get_user())``; a failure to get the user is logged, and the context has no user."""
    try:
        return user_context(get_user())
    except Exception:
        _no_user(source)
        return {}


async def user_context_from_async(get_user: Callable[[], Awaitable[Any]], source: str) -> dict[str, Any]:
    """``user_context(await get_user())``; a failure to get the user is logged, and the context has no user."""
    try:
        return user_context(await get_user())
    except Exception:
        _no_user(source)
        return {}


def _no_user(source: str) -> None:
    diagnostics.count("request_user_error")
    LOG.exception("Could not read %s; the request context has no user.", source)


def _field(user: Any, name: str) -> Any:
    value = getattr(user, name, None)
    if value is None and callable(getattr(user, "keys", None)) and name in user.keys():
        value = user[name]
    return value


def session_context(session_key: str | None, framework_secret: str | bytes | None) -> dict[str, str]:
    """``session``: a keyed hash of ``session_key``, so sessions can be told apart but not hijacked."""
    if not session_key:
        return {}
    secret = config.text(config.SESSION_HASH_KEY, "") or framework_secret
    if not secret:
        diagnostics.warn(
            "no_session_hash_key",
            "",
            "No key to hash session keys with: set %s or the framework's secret key; session left out.",
            config.SESSION_HASH_KEY,
        )
        return {}
    key = secret.encode() if isinstance(secret, str) else secret
    return {"session": hmac.new(key, session_key.encode(), hashlib.sha256).hexdigest()}


def enter_request_context(tracker: Tracker, context: Mapping[str, Any]) -> None:
    """Enter ``context`` as the request context; a tracker that has no description of it gets ``REQUEST_CONTEXT``."""
    if REQUEST_CONTEXT_NAME not in tracker.registry.contexts:
        tracker.register_context(REQUEST_CONTEXT_NAME, REQUEST_CONTEXT.description, REQUEST_CONTEXT.fields)
    tracker.enter_context(REQUEST_CONTEXT_NAME, context)


def exit_request_context(tracker: Tracker) -> None:
    """Exit the request context entered for the current request."""
    tracker.exit_context(REQUEST_CONTEXT_NAME)


class StreamInContext:
    """A streamed response body that runs in the request's OTel Context while it streams.

    A server iterates the body after the framework has returned, when the request's context
    (and the span of OTel's own instrumentation) is no longer current; each step therefore
    runs in the Context captured when the body was wrapped. ``close()`` (called by the server
    when the response is done) closes the body and exits the request context.
    """

    def __init__(self, body: Any, tracker: Tracker) -> None:
        self._body = body
        self._tracker = tracker
        self._context = otel_context.get_current()
        self._closed = False

    def _attach(self) -> object:
        return otel_context.attach(self._context)

    def close(self) -> None:
        """Close the body (in the request's Context), then exit the request context; once."""
        if self._closed:
            return
        self._closed = True
        token = self._attach()
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                close()
        finally:
            otel_context.detach(token)
            exit_request_context(self._tracker)


class SyncStreamInContext(StreamInContext):
    """``StreamInContext`` for a body iterated synchronously (WSGI)."""

    def __init__(self, body: Iterable[Any], tracker: Tracker) -> None:
        super().__init__(body, tracker)
        self._iterator: Iterator[Any] = iter(body)

    def __iter__(self) -> SyncStreamInContext:
        return self

    def __next__(self) -> Any:
        token = self._attach()
        try:
            return next(self._iterator)
        finally:
            otel_context.detach(token)


class AsyncStreamInContext(StreamInContext):
    """``StreamInContext`` for an asynchronous body (Django's async streaming under ASGI)."""

    def __init__(self, body: Any, tracker: Tracker) -> None:
        super().__init__(body, tracker)
        self._iterator: AsyncIterator[Any] = aiter(body)

    def __aiter__(self) -> AsyncStreamInContext:
        return self

    async def __anext__(self) -> Any:
        token = self._attach()
        try:
            return await anext(self._iterator)
        finally:
            otel_context.detach(token)


def in_request_context(body: Any, tracker: Tracker) -> StreamInContext:
    """Wrap a streamed body so it streams in the current Context and exits the request context when closed."""
    if hasattr(body, "__aiter__") and not hasattr(body, "__iter__"):
        return AsyncStreamInContext(body, tracker)
    return SyncStreamInContext(body, tracker)


register_request_context()
