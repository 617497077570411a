"""The Flask instrumentor with Flask's test client: the example app, alone and with OTel's Flask instrumentation."""

from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace

import flask
import pytest
from eventtracking.instrumentation.flask import EventTrackingFlaskInstrumentor
from flask.app import Flask
from opentelemetry import baggage
from opentelemetry.instrumentation.flask import FlaskInstrumentor

from eventtracking.tracker import get_tracker
from examples.flask_app.app import create_app
from tests.instrumentation.support import BEARER, OTHER_COOKIE, PASSWORD, assert_no_secrets, server_span

BROWSER = {
    "User-Agent": "Mozilla/5.0 (flask test)",
    "Referer": "https://shop.example.com/cart?reset_token=xyz",
    "Accept-Language": "de-CH",
    "X-Request-ID": "req-flask-1",
    "X-Forwarded-For": "203.0.113.9",
    "Authorization": BEARER,
}


def assert_nothing_left() -> None:
    """The test thread, which ran the request, holds no context and no baggage afterwards."""
    assert get_tracker().resolve_context() == {}
    assert dict(baggage.get_all()) == {}


def logged_in_client(app: Flask):
    client = app.test_client()
    client.set_cookie("_ga", "GA1.2.555.777")
    client.set_cookie("other", OTHER_COOKIE)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD}, headers=BROWSER)
    assert response.status_code == 200
    return client


def expected_session(app: Flask, client) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return hmac.new(app.secret_key.encode(), cookie.encode(), hashlib.sha256).hexdigest()


def test_every_request_key_on_the_events_of_a_view(events, flask_instrumented):
    app = create_app()
    client = logged_in_client(app)
    session = expected_session(app, client)

    assert client.get("/", headers=BROWSER).status_code == 200

    (login,) = events.named("demo.user.logged_in")
    assert "user_id" not in login["context"]  # logged in by the view itself: anonymous when the request began
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"] == {
        "user_id": 1,
        "username": "alice",
        "session": session,
        "ip": "127.0.0.1",  # X-Forwarded-For is not trusted by default
        "agent": "Mozilla/5.0 (flask test)",
        "host": "localhost",
        "path": "/",
        "method": "GET",
        "referer": "https://shop.example.com/cart",
        "accept_language": "de-CH",
        "client_id": "555.777",
        "request_id": "req-flask-1",
    }
    assert_no_secrets(events.events)
    assert client.get_cookie("session").value not in repr(events.events)
    assert_nothing_left()


def test_trusted_proxy_count_makes_x_forwarded_for_the_ip(events, flask_instrumented, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_TRUSTED_PROXY_COUNT", "1")
    create_app().test_client().get("/", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["ip"] == "203.0.113.9"


def test_path_includes_the_mount_point_and_never_the_query(events, flask_instrumented):
    create_app().test_client().get("/?password=letmein", base_url="http://localhost/shop/")
    (viewed,) = events.named("demo.page.viewed")
    assert viewed["context"]["path"] == "/shop/"
    assert "letmein" not in repr(events.events)


def test_the_context_is_entered_after_before_request_functions_so_it_has_their_user(events, flask_instrumented):
    app = Flask(__name__)
    app.secret_key = "secret"

    @app.before_request
    def load_user() -> None:
        get_tracker().emit("early", {})
        flask.g.user = SimpleNamespace(id=3, username="carol")

    @app.get("/")
    def index() -> str:
        get_tracker().emit("view", {})
        return "ok"

    app.test_client().get("/")
    (early,) = events.named("early")
    (view,) = events.named("view")
    assert early["context"] == {}
    assert (view["context"]["path"], view["context"]["user_id"], view["context"]["username"]) == ("/", 3, "carol")


def test_preprocess_request_called_outside_a_dispatch_enters_nothing(events, flask_instrumented):
    app = create_app()
    with app.test_request_context("/"):
        app.preprocess_request()
        assert_nothing_left()


def test_a_user_getter_replaces_g_user(events):
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument(user_getter=lambda: SimpleNamespace(id=99, username="zed"))
    try:
        create_app().test_client().get("/")
    finally:
        instrumentor.uninstrument()
    (viewed,) = events.named("demo.page.viewed")
    assert (viewed["context"]["user_id"], viewed["context"]["username"]) == (99, "zed")


@pytest.mark.parametrize("propagate", [False, True], ids=["error-handler", "propagated"])
def test_a_view_that_raises_leaves_no_context(events, flask_instrumented, propagate):
    app = create_app()
    app.testing = propagate
    client = logged_in_client(app)
    if propagate:
        with pytest.raises(RuntimeError, match="on purpose"):
            client.get("/fail")
    else:
        assert client.get("/fail").status_code == 500
    (failure,) = events.named("demo.failure.started")
    assert (failure["context"]["path"], failure["context"]["user_id"]) == ("/fail", 1)
    assert_nothing_left()


def test_a_streamed_response_streams_in_the_context_and_exits_it_when_closed(events, flask_instrumented):
    client = logged_in_client(create_app())
    response = client.get("/stream", headers=BROWSER)
    assert response.get_data(as_text=True) == "chunk 0\nchunk 1\nchunk 2\n"
    response.close()

    chunks = events.named("demo.stream.chunk")
    assert [chunk["data"]["number"] for chunk in chunks] == [0, 1, 2]
    assert {chunk["context"]["request_id"] for chunk in chunks} == {"req-flask-1"}
    assert all(chunk["context"]["username"] == "alice" for chunk in chunks)
    assert_nothing_left()


def test_with_otel_flask_instrumentation_the_context_lands_on_the_server_span(events, flask_instrumented, spans):
    provider, exporter = spans
    app = create_app()
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider)
    try:
        client = logged_in_client(app)
        session = expected_session(app, client)
        client.get("/", headers=BROWSER)
        streamed = client.get("/stream")
        assert streamed.get_data(as_text=True).count("chunk") == 3
        streamed.close()
        client.get("/fail")
    finally:
        FlaskInstrumentor.uninstrument_app(app)

    (viewed,) = events.named("demo.page.viewed")
    span = server_span(exporter, "GET /")
    attributes = dict(span.attributes)
    for key, value in viewed["context"].items():
        assert attributes[key] == value, key
    assert (attributes["user_id"], attributes["session"], attributes["request_id"]) == (1, session, "req-flask-1")
    assert "demo.page.viewed" in [event.name for event in span.events]
    assert all(chunk["context"]["user_id"] == 1 for chunk in events.named("demo.stream.chunk"))
    assert server_span(exporter, "GET /fail").attributes["path"] == "/fail"
    assert_no_secrets(events.events, [dict(span.attributes) for span in exporter.get_finished_spans()])
    assert_nothing_left()


def test_instrument_is_idempotent_and_uninstrument_undoes_the_patches_exactly(events):
    originals = (Flask.full_dispatch_request, Flask.preprocess_request)
    app = create_app()  # made before instrumenting: patched all the same
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    try:
        assert Flask.full_dispatch_request.__wrapped__ is originals[0]
        assert Flask.preprocess_request.__wrapped__ is originals[1]
        app.test_client().get("/")
    finally:
        instrumentor.uninstrument()
    instrumentor.uninstrument()

    assert (Flask.full_dispatch_request, Flask.preprocess_request) == originals
    app.test_client().get("/")
    create_app().test_client().get("/")
    contexts = [event["context"] for event in events.named("demo.page.viewed")]
    assert contexts[0]["path"] == "/"
    assert contexts[1:] == [{}, {}]
