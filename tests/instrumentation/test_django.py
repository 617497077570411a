"""The Django instrumentor on the example project: Django's test client (WSGI), ASGI calls, OTel's instrumentation.

OTel's Django instrumentation traces ASGI requests only with opentelemetry-instrumentation-asgi, which
the ``test`` extra installs: the server span is tested under WSGI and under ASGI.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os

import django
import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.test import Client, override_settings
from eventtracking.instrumentation.django import MIDDLEWARE, EventTrackingDjangoInstrumentor
from eventtracking.instrumentation.request_context import REQUEST_CONTEXT
from opentelemetry import baggage
from opentelemetry.instrumentation.django import DjangoInstrumentor

import examples.django_app.settings as example_settings
from eventtracking.registry import METADATA_EVENT_NAME
from eventtracking.tracker import get_tracker, register_tracker
from tests.instrumentation.support import BEARER, OTHER_COOKIE, PASSWORD, assert_no_secrets, server_span

AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
BROWSER = {
    "HTTP_USER_AGENT": "Mozilla/5.0 (django test)",
    "HTTP_REFERER": "https://shop.example.com/cart?reset_token=xyz",
    "HTTP_ACCEPT_LANGUAGE": "it-CH",
    "HTTP_X_REQUEST_ID": "req-django-1",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    "HTTP_AUTHORIZATION": BEARER,
}


@pytest.fixture(scope="module", autouse=True)
def example_project():
    """The example project's settings, over whatever settings this test process has (its database excepted)."""
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        settings.configure(USE_TZ=True, SECRET_KEY=example_settings.SECRET_KEY)
    if not has_secret_key():  # configured elsewhere without one, which override_settings could not restore
        settings.SECRET_KEY = example_settings.SECRET_KEY
    if not apps.ready:
        django.setup()
    names = [name for name in dir(example_settings) if name.isupper() and name not in ("DATABASES", "SECRET_KEY")]
    with override_settings(**{name: getattr(example_settings, name) for name in names}):
        yield


def has_secret_key() -> bool:
    try:
        return bool(settings.SECRET_KEY)
    except ImproperlyConfigured:
        return False


def assert_nothing_left() -> None:
    """The test thread, which ran the request, holds no context and no baggage afterwards."""
    assert get_tracker().resolve_context() == {}
    assert dict(baggage.get_all()) == {}


def logged_in_client(**kwargs) -> Client:
    client = Client(**kwargs)
    client.cookies["_ga"] = "GA1.2.555.777"
    client.cookies["other"] = OTHER_COOKIE
    response = client.post("/login", {"username": "alice", "password": PASSWORD}, **BROWSER)
    assert response.status_code == 200
    return client


def expected_session(client: Client) -> str:
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return hmac.new(settings.SECRET_KEY.encode(), session_key.encode(), hashlib.sha256).hexdigest()


def asgi_get(path: str, cookies: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One GET request through Django's ASGI handler, as an ASGI server would make it."""
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    raw_headers = [(b"host", b"testserver"), (b"cookie", cookie.encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("192.0.2.44", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def call() -> None:
        responded = asyncio.Event()
        body_sent = False

        async def receive() -> dict:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await responded.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                responded.set()

        await asyncio.wait_for(ASGIHandler()(scope, receive, send), timeout=10)

    asyncio.run(call())
    status = next(message["status"] for message in sent if message["type"] == "http.response.start")
    return status, b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")


def test_every_request_key_on_the_events_of_a_view(events, django_instrumented):
    client = logged_in_client()
    assert client.get("/", **BROWSER).status_code == 200

    (login,) = events.named("demo.user.logged_in")
    assert "user_id" not in login["context"]  # logged in by the view itself: anonymous when the request began
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"] == {
        "user_id": 1,
        "username": "alice",
        "session": expected_session(client),
        "ip": "127.0.0.1",  # X-Forwarded-For is not trusted by default
        "agent": "Mozilla/5.0 (django test)",
        "host": "testserver",
        "path": "/",
        "method": "GET",
        "referer": "https://shop.example.com/cart",
        "accept_language": "it-CH",
        "client_id": "555.777",
        "request_id": "req-django-1",
    }
    # Described: each event carries the request context's id, documented once by a metadata record.
    assert login["context_type_id"] == viewed["context_type_id"] == REQUEST_CONTEXT.id
    contexts = [record["data"] for record in events.named(METADATA_EVENT_NAME) if record["data"]["kind"] == "context"]
    assert contexts == [REQUEST_CONTEXT.as_data()]
    assert_no_secrets(events.events)
    assert client.cookies[settings.SESSION_COOKIE_NAME].value not in repr(events.events)
    assert_nothing_left()


def test_the_middleware_comes_right_after_authentication(events, django_instrumented):
    Client().get("/")
    assert settings.MIDDLEWARE[settings.MIDDLEWARE.index(AUTHENTICATION) + 1] == MIDDLEWARE


def test_without_authentication_middleware_it_comes_last(events, django_instrumented):
    with override_settings(MIDDLEWARE=["django.middleware.common.CommonMiddleware"]):
        Client().get("/")
        assert settings.MIDDLEWARE == ["django.middleware.common.CommonMiddleware", MIDDLEWARE]
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["path"] == "/" and "user_id" not in viewed["context"]


def test_a_middleware_listed_by_the_project_stays_where_it_is(events):
    listed = (MIDDLEWARE, *example_settings.MIDDLEWARE)
    instrumentor = EventTrackingDjangoInstrumentor()
    with override_settings(MIDDLEWARE=listed):
        instrumentor.instrument()
        try:
            Client().get("/")
        finally:
            instrumentor.uninstrument()
        assert settings.MIDDLEWARE == listed
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["path"] == "/"
    assert "user_id" not in viewed["context"]  # before authentication: no user


def test_trusted_proxy_count_makes_x_forwarded_for_the_ip(events, django_instrumented, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_TRUSTED_PROXY_COUNT", "1")
    Client().get("/", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["ip"] == "203.0.113.9"


def test_path_includes_the_mount_point_and_never_the_query(events, django_instrumented):
    Client().get("/?password=letmein", SCRIPT_NAME="/shop")
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["path"] == "/shop/"
    assert "letmein" not in repr(events.events)


@pytest.mark.parametrize("raise_request_exception", [False, True], ids=["500", "raised"])
def test_a_view_that_raises_leaves_no_context(events, django_instrumented, raise_request_exception):
    client = logged_in_client(raise_request_exception=raise_request_exception)
    if raise_request_exception:
        with pytest.raises(RuntimeError, match="on purpose"):
            client.get("/fail")
    else:
        assert client.get("/fail").status_code == 500
    (failure,) = events.named("demo.failure.started")
    assert (failure["context"]["path"], failure["context"]["user_id"]) == ("/fail", 1)
    assert_nothing_left()


def test_a_streamed_response_streams_in_the_context_and_exits_it_when_closed(events, django_instrumented):
    client = logged_in_client()
    response = client.get("/stream", **BROWSER)
    assert b"".join(response.streaming_content) == b"chunk 0\nchunk 1\nchunk 2\n"  # the client closes it at the end

    chunks = events.named("demo.stream.chunk")
    assert [chunk["data"]["number"] for chunk in chunks] == [0, 1, 2]
    assert {(chunk["context"]["request_id"], chunk["context"]["username"]) for chunk in chunks} == {
        ("req-django-1", "alice")
    }
    assert_nothing_left()


def test_async_views_under_asgi(events, django_instrumented):
    client = logged_in_client()
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    headers = {"User-Agent": "asgi-agent", "X-Request-ID": "req-asgi-1", "Authorization": BEARER}

    assert asgi_get("/async", cookies, headers) == (200, b'{"ok": true}')
    assert asgi_get("/async-stream", cookies, headers) == (200, b"chunk 0\nchunk 1\nchunk 2\n")

    (viewed,) = events.named("demo.async.viewed")
    assert viewed["context"] == {
        "user_id": 1,
        "username": "alice",
        "session": expected_session(client),
        "ip": "192.0.2.44",
        "agent": "asgi-agent",
        "host": "testserver",
        "path": "/async",
        "method": "GET",
        "client_id": "555.777",
        "request_id": "req-asgi-1",
    }
    chunks = events.named("demo.stream.chunk")
    assert [chunk["data"]["number"] for chunk in chunks] == [0, 1, 2]
    assert all(chunk["context"] == {**viewed["context"], "path": "/async-stream"} for chunk in chunks)
    assert {event["context_type_id"] for event in (viewed, *chunks)} == {REQUEST_CONTEXT.id}
    assert_no_secrets(events.events)


def test_with_otel_django_instrumentation_the_context_lands_on_the_server_span(events, django_instrumented, spans):
    provider, exporter = spans
    otel = DjangoInstrumentor()
    otel.instrument(tracer_provider=provider)
    try:
        client = logged_in_client(raise_request_exception=False)
        client.get("/", **BROWSER)
        assert b"".join(client.get("/stream").streaming_content).count(b"chunk") == 3
        client.get("/fail")
    finally:
        otel.uninstrument()

    (viewed,) = events.named("demo.page.viewed")
    span = server_span(exporter, "GET")
    attributes = dict(span.attributes)
    for key, value in viewed["context"].items():
        assert attributes[key] == value, key
    assert (attributes["user_id"], attributes["request_id"]) == (1, "req-django-1")
    assert "demo.page.viewed" in [event.name for event in span.events]
    assert all(chunk["context"]["user_id"] == 1 for chunk in events.named("demo.stream.chunk"))
    assert server_span(exporter, "GET fail").attributes["path"] == "/fail"
    assert_no_secrets(events.events, [dict(span.attributes) for span in exporter.get_finished_spans()])
    assert_nothing_left()


def test_with_otel_django_instrumentation_under_asgi_the_context_lands_on_the_server_span(
    events, django_instrumented, spans, otel_logs, make_tracker
):
    provider, exporter = spans
    log_provider, logs = otel_logs
    register_tracker(make_tracker(backends={"memory": events}, logger_provider=log_provider))
    client = logged_in_client()
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    headers = {"User-Agent": "asgi-agent", "X-Request-ID": "req-asgi-2", "Authorization": BEARER}
    otel = DjangoInstrumentor()
    otel.instrument(tracer_provider=provider)
    try:
        assert asgi_get("/async", cookies, headers) == (200, b'{"ok": true}')
        assert asgi_get("/async-stream", cookies, headers) == (200, b"chunk 0\nchunk 1\nchunk 2\n")
    finally:
        otel.uninstrument()
    assert not otel.is_instrumented_by_opentelemetry

    (viewed,) = events.named("demo.async.viewed")
    span = server_span(exporter, "GET async")
    attributes = dict(span.attributes)
    assert {key: attributes.get(key) for key in ("user_id", "username", "path", "method", "request_id")} == {
        "user_id": 1,
        "username": "alice",
        "path": "/async",
        "method": "GET",
        "request_id": "req-asgi-2",
    }
    for key, value in viewed["context"].items():
        assert attributes[key] == value, key
    assert "demo.async.viewed" in [event.name for event in span.events]
    # The event's OTel log record belongs to the server span, and so do the chunks streamed after the view returned.
    records = [readable.log_record for readable in logs.get_finished_logs()]
    (record,) = [record for record in records if record.event_name == "demo.async.viewed"]
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    stream_span = server_span(exporter, "GET async-stream")
    assert stream_span.attributes["path"] == "/async-stream"
    chunks = [record for record in records if record.event_name == "demo.stream.chunk"]
    assert [(chunk.trace_id, chunk.span_id) for chunk in chunks] == [
        (stream_span.context.trace_id, stream_span.context.span_id)
    ] * 3
    assert_no_secrets(events.events, [dict(span.attributes) for span in exporter.get_finished_spans()])


def test_instrument_is_idempotent_and_uninstrument_removes_everything(events):
    original = BaseHandler.load_middleware
    instrumentor = EventTrackingDjangoInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    client = Client()  # its handler keeps the middleware it loads now
    try:
        assert BaseHandler.load_middleware.__wrapped__ is original
        client.get("/")
    finally:
        instrumentor.uninstrument()
    instrumentor.uninstrument()

    assert BaseHandler.load_middleware is original
    assert MIDDLEWARE not in settings.MIDDLEWARE
    assert list(settings.MIDDLEWARE) == example_settings.MIDDLEWARE
    client.get("/")
    Client().get("/")
    contexts = [event["context"] for event in events.named("demo.page.viewed")]
    assert contexts[0]["path"] == "/"
    assert contexts[1:] == [{}, {}]
