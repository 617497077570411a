"""Where the Flask instrumentor finds the user: ``g.user``, Flask-Login, ``EVENTTRACKING_FLASK_USER_GETTER``.

With a real Flask app using the real Flask-Login, through Flask's test client (the same app runs
under gunicorn and opentelemetry-instrument in test_servers.py). Also: the request context is a
described context, so its events carry ``context_type_id`` and its metadata record is written once.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import flask
import pytest
from eventtracking.instrumentation.flask import EventTrackingFlaskInstrumentor
from eventtracking.instrumentation.request_context import (
    REQUEST_CONTEXT,
    REQUEST_CONTEXT_NAME,
    enter_request_context,
    exit_request_context,
)
from flask.app import Flask

from eventtracking import tracker as tracker_module
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.registry import METADATA_EVENT_NAME
from tests.instrumentation.apps.flask_login_app import create_app

GETTER_VARIABLE = "EVENTTRACKING_FLASK_USER_GETTER"
GETTERS = "tests.instrumentation.apps.user_getters"


def logged_in(app: Flask, username: str = "alice"):
    client = app.test_client()
    assert client.post("/login", data={"username": username}).status_code == 200
    return client


def user_of(event: dict) -> tuple:
    return event["context"].get("user_id"), event["context"].get("username")


@pytest.fixture
def instrument_with(monkeypatch):
    """Instrument with ``EVENTTRACKING_FLASK_USER_GETTER`` set to the given value (and ``instrument()``'s kwargs)."""
    instrumentor = EventTrackingFlaskInstrumentor()

    def instrument(getter: str, **kwargs) -> EventTrackingFlaskInstrumentor:
        monkeypatch.setenv(GETTER_VARIABLE, getter)
        instrumentor.instrument(**kwargs)
        return instrumentor

    yield instrument
    instrumentor.uninstrument()


def test_flask_login_current_user_is_the_user_when_there_is_no_g_user(events, flask_instrumented):
    app = create_app()
    client = logged_in(app)
    assert client.get("/").status_code == 200

    (login,) = events.named("login.done")
    assert user_of(login) == (None, None)  # anonymous when the request began
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (1, "alice")
    assert viewed["data"] == {"user_loaded": True}
    assert app.config["LOADED_USER_IDS"] == ["1"]  # loaded once; the view's current_user reuses it
    assert {"session", "ip", "path", "request_id"} <= viewed["context"].keys()


def test_an_anonymous_flask_login_visitor_has_no_user(events, flask_instrumented):
    app = create_app()
    app.test_client().get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (None, None)
    assert viewed["context"]["path"] == "/"


def test_g_user_comes_before_flask_login_which_then_loads_nothing(events, flask_instrumented):
    app = create_app()

    @app.before_request
    def load_user() -> None:
        flask.g.user = SimpleNamespace(id=7, username="gina")

    logged_in(app).get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (7, "gina")
    assert viewed["data"] == {"user_loaded": False}
    assert app.config["LOADED_USER_IDS"] == []


def test_a_g_user_of_none_falls_back_to_flask_login(events, flask_instrumented):
    app = create_app()

    @app.before_request
    def no_user() -> None:
        flask.g.user = None

    logged_in(app).get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (1, "alice")


def test_an_app_without_flask_login_never_has_a_user_loaded(events, flask_instrumented):
    with_login = create_app()
    logged_in(with_login)  # Flask-Login is imported and used by another app of the process
    without_login = create_app(login_manager=False)
    without_login.login_manager = SimpleNamespace()  # not a LoginManager: ignored

    without_login.test_client().get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (None, None)
    assert viewed["data"] == {"user_loaded": False}
    assert viewed["context"]["path"] == "/"


def test_flask_login_is_never_imported_by_the_instrumentor(events, flask_instrumented, monkeypatch):
    app = create_app()
    client = logged_in(app)
    monkeypatch.delitem(sys.modules, "flask_login")  # as in a process whose app does not import it

    client.get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (None, None)
    assert viewed["data"] == {"user_loaded": False}
    assert "flask_login" not in sys.modules


@pytest.mark.parametrize("form", [f"{GETTERS}:header_user", f"{GETTERS}.header_user"], ids=["colon", "dot"])
def test_the_environment_names_a_user_getter_that_replaces_the_default(events, instrument_with, form):
    instrument_with(form)
    app = create_app()
    client = logged_in(app)
    client.get("/", headers={"X-Test-User": "zoe"})
    client.get("/")  # logged in with Flask-Login, but the getter names nobody

    zoe, nobody = events.named("page.viewed")
    assert user_of(zoe) == ("user-zoe", "zoe")
    assert user_of(nobody) == (None, None)
    assert app.config["LOADED_USER_IDS"] == []


def test_the_environment_may_name_a_werkzeug_proxy_such_as_current_user(events, instrument_with):
    instrument_with("flask_login:current_user")
    logged_in(create_app()).get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (1, "alice")


def test_a_user_getter_passed_to_instrument_comes_before_the_environment(events, instrument_with):
    instrument_with(f"{GETTERS}:header_user", user_getter=lambda: SimpleNamespace(id=99, username="zed"))
    create_app().test_client().get("/", headers={"X-Test-User": "zoe"})
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (99, "zed")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("no_such_module_anywhere:get_user", "cannot import it"),
        (f"{GETTERS}:missing", "cannot import it"),
        ("not a path!", "cannot import it"),
        (f"{GETTERS}:NOT_CALLABLE", "is a int, not a callable"),
    ],
)
def test_a_wrong_getter_fails_instrument_naming_the_variable_and_patches_nothing(
    events, instrument_with, monkeypatch, value, reason
):
    originals = (Flask.full_dispatch_request, Flask.preprocess_request)
    with pytest.raises(ImproperlyConfigured, match=f"{GETTER_VARIABLE}=.*{reason}"):
        instrument_with(value)
    instrumentor = EventTrackingFlaskInstrumentor()
    assert not instrumentor.is_instrumented_by_opentelemetry
    assert (Flask.full_dispatch_request, Flask.preprocess_request) == originals

    monkeypatch.delenv(GETTER_VARIABLE)
    instrumentor.instrument()  # fixed: instruments as usual
    logged_in(create_app()).get("/")
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (1, "alice")


def test_uninstrument_forgets_the_getter(events, monkeypatch):
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument(user_getter=lambda: SimpleNamespace(id=99, username="zed"))
    instrumentor.uninstrument()
    instrumentor.instrument()
    try:
        logged_in(create_app()).get("/")
    finally:
        instrumentor.uninstrument()
    (viewed,) = events.named("page.viewed")
    assert user_of(viewed) == (1, "alice")


# The request context, described


def test_events_of_a_request_carry_the_request_context_type_documented_once(events, flask_instrumented):
    client = logged_in(create_app())
    client.get("/")
    client.get("/")
    tracker_module.emit("outside.request", {})

    in_requests = events.named("login.done") + events.named("page.viewed")
    assert [event["context_type_id"] for event in in_requests] == [REQUEST_CONTEXT.id] * 3
    (outside,) = events.named("outside.request")
    assert "context_type_id" not in outside
    (record,) = events.named(METADATA_EVENT_NAME)
    assert record["data"] == REQUEST_CONTEXT.as_data()
    assert record["data"]["name"] == REQUEST_CONTEXT_NAME == "eventtracking.request"
    documented = [field["name"] for field in record["data"]["fields"]]
    assert documented == [
        "user_id",
        "username",
        "session",
        "ip",
        "agent",
        "host",
        "path",
        "method",
        "referer",
        "accept_language",
        "client_id",
        "request_id",
    ]
    assert all(field["description"] for field in record["data"]["fields"])


def test_instrument_describes_the_request_context_to_the_default_tracker_before_it_exists():
    assert REQUEST_CONTEXT_NAME not in tracker_module.DEFAULT_TYPES.contexts  # a fresh registry, in each test
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument()
    try:
        assert tracker_module.DEFAULT_TYPES.contexts[REQUEST_CONTEXT_NAME] == REQUEST_CONTEXT
        assert REQUEST_CONTEXT_NAME not in tracker_module.TRACKERS  # nothing made
        assert tracker_module.get_tracker().registry.contexts[REQUEST_CONTEXT_NAME] == REQUEST_CONTEXT
    finally:
        instrumentor.uninstrument()


def test_a_description_of_the_request_context_registered_by_the_application_stays_in_force(events):
    ours = tracker_module.register_context(REQUEST_CONTEXT_NAME, "Our requests.", {"user_id": "Our user's id."})
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument()
    try:
        create_app().test_client().get("/")
    finally:
        instrumentor.uninstrument()
    (viewed,) = events.named("page.viewed")
    assert viewed["context_type_id"] == ours.id != REQUEST_CONTEXT.id
    assert [record["data"] for record in events.named(METADATA_EVENT_NAME)] == [ours.as_data()]


def test_a_tracker_that_does_not_know_the_request_context_learns_it_at_its_first_request(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})  # not the default: adopted nothing
    for request_id in ("r1", "r2"):
        enter_request_context(tracker, {"request_id": request_id})
        tracker.emit("in.request", {})
        exit_request_context(tracker)

    records = [event for event in memory_backend.events if event["name"] == METADATA_EVENT_NAME]
    assert [record["data"] for record in records] == [REQUEST_CONTEXT.as_data()]
    emitted = [event for event in memory_backend.events if event["name"] == "in.request"]
    assert [(event["context"], event["context_type_id"]) for event in emitted] == [
        ({"request_id": "r1"}, REQUEST_CONTEXT.id),
        ({"request_id": "r2"}, REQUEST_CONTEXT.id),
    ]
