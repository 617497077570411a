"""The browser client: the Flask blueprint and the Django view with their test clients, and Tracker.emit in Chromium."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.test.utils import override_settings
from eventtracking.instrumentation.request_context import REQUEST_CONTEXT_NAME
from flask import Flask

from eventtracking.browser import Limits
from eventtracking.browser.flask import TOKEN_FIELD, TOKEN_HEADER, create_blueprint
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.registry import is_metadata
from eventtracking.tracker import register_tracker
from tests.django_app.support import ensure_django
from tests.event_types.browser_app import create_app, serving

ENDPOINT = "/eventtracking/events"
TOKEN = re.compile(r'data-csrf-token="([^"]+)"')


def recorded(backend) -> list[dict]:
    return [event for event in backend.events if not is_metadata(event)]


def batch(*names: str, **extra) -> dict:
    return {"events": [{"name": name, "data": {"n": index}, **extra} for index, name in enumerate(names)]}


# Flask, with its test client.


@pytest.fixture
def flask_site(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    app = create_app(tracker, limits=Limits(max_body_bytes=2048, max_events=3))
    client = app.test_client()
    token = TOKEN.search(client.get("/").text).group(1)
    return client, token, memory_backend


def test_flask_accepts_a_batch_and_emits_each_event_as_a_client_event(flask_site):
    client, token, backend = flask_site
    response = client.post(
        ENDPOINT,
        json=batch("test.a", "test.b", context={"page": "http://site/x"}, timestamp="2026-01-01T00:00:00.000Z"),
        headers={TOKEN_HEADER: token, "User-Agent": "TestBrowser/1.0"},
    )
    assert response.status_code == 202
    assert response.json == {"accepted": 2}
    assert [(event["name"], event["data"]) for event in recorded(backend)] == [
        ("test.a", {"n": 0}),
        ("test.b", {"n": 1}),
    ]
    context = recorded(backend)[0]["context"]
    assert context["origin"] == "client"
    assert context["client"] == {"page": "http://site/x", "timestamp": "2026-01-01T00:00:00.000Z"}
    assert context["ip"] == "127.0.0.1"
    assert context["agent"] == "TestBrowser/1.0"


def test_flask_accepts_the_form_body_sendbeacon_posts_with_the_token_in_a_field(flask_site):
    client, token, backend = flask_site
    body = urlencode({TOKEN_FIELD: token, "events": json.dumps(batch("test.a"))})
    response = client.post(ENDPOINT, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert [event["name"] for event in recorded(backend)] == ["test.a"]


def test_the_server_request_context_wins_over_anything_the_client_sends(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    app = create_app(tracker)

    @app.before_request
    def _as_the_instrumentation_does() -> None:
        tracker.enter_context(REQUEST_CONTEXT_NAME, {"user_id": 7, "ip": "198.51.100.7", "origin": "server"})

    @app.teardown_request
    def _exit(_error) -> None:
        tracker.exit_context(REQUEST_CONTEXT_NAME)

    client = app.test_client()
    token = TOKEN.search(client.get("/").text).group(1)
    forged = {"user_id": 1, "ip": "203.0.113.66", "origin": "server", "username": "admin"}
    response = client.post(ENDPOINT, json=batch("test.a", context=forged), headers={TOKEN_HEADER: token})
    assert response.status_code == 202

    (event,) = recorded(memory_backend)
    context = event["context"]
    assert (context["user_id"], context["ip"], context["origin"]) == (7, "198.51.100.7", "client")
    assert "username" not in context
    assert context["client"] == forged


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (json.dumps(batch("test.a", context={"pad": "x" * 3000})), "application/json", 413, "at most 2048"),
        (json.dumps(batch("a.a", "a.b", "a.c", "a.d")), "application/json", 413, "at most 3 are accepted"),
        ('{"events": [', "application/json", 400, "not valid JSON"),
        ('[{"name": "a.b"}]', "application/json", 400, "object with a list of events"),
        (json.dumps(batch("has space")), "application/json", 400, "is not allowed"),
        (json.dumps(batch("x" * 129)), "application/json", 400, "is not allowed"),
        (json.dumps(batch("eventtracking.metadata")), "application/json", 400, "is not allowed"),
        (json.dumps({"events": [{"name": "a.b", "data": [1]}]}), "application/json", 400, "must be objects"),
        (json.dumps(batch("a.b")), "text/html", 415, "Content type"),
    ],
)
def test_flask_rejects_bad_batches_with_a_reason_and_emits_nothing(flask_site, body, content_type, status, reason):
    client, token, backend = flask_site
    response = client.post(ENDPOINT, data=body, content_type=content_type, headers={TOKEN_HEADER: token})
    assert response.status_code == status
    assert reason in response.json["error"]
    assert recorded(backend) == []


def test_a_strict_tracker_turns_an_event_that_does_not_match_its_registration_into_a_400(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend}, strict=True)
    tracker.register("test.a", "Something happened.", {"n": "How many times."})
    client = create_app(tracker).test_client()
    token = TOKEN.search(client.get("/").text).group(1)
    response = client.post(ENDPOINT, json={"events": [{"name": "test.a", "data": {}}]}, headers={TOKEN_HEADER: token})
    assert response.status_code == 400
    assert "does not match its registration" in response.json["error"]
    assert "lacks the registered field(s) n " in response.json["error"]
    assert recorded(memory_backend) == []


def test_flask_rejects_a_batch_without_the_token_of_this_session(flask_site, make_tracker):
    client, token, backend = flask_site
    assert client.post(ENDPOINT, json=batch("test.a")).status_code == 403
    assert client.post(ENDPOINT, json=batch("test.a"), headers={TOKEN_HEADER: token + "x"}).status_code == 403
    other = create_app(make_tracker()).test_client()  # another session, same secret key
    other_token = TOKEN.search(other.get("/").text).group(1)
    response = client.post(ENDPOINT, json=batch("test.a"), headers={TOKEN_HEADER: other_token})
    assert response.status_code == 403
    assert "does not belong to this session" in response.json["error"]
    assert recorded(backend) == []


def test_flask_serves_the_script_and_needs_a_secret_key(flask_site):
    client, _, _ = flask_site
    response = client.get("/eventtracking/tracker.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"Tracker.emit" in response.data
    with pytest.raises(ImproperlyConfigured, match="secret_key"):
        Flask("no_secret").register_blueprint(create_blueprint())


# Django, with its test client.


@pytest.fixture(scope="module")
def django_site():
    ensure_django()
    with override_settings(
        ROOT_URLCONF="tests.event_types.django_site",
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        ALLOWED_HOSTS=["testserver"],
        EVENT_TRACKING_BROWSER={"MAX_BODY_BYTES": 2048, "MAX_EVENTS": 3},
    ):
        yield


@pytest.fixture
def django_client(django_site, make_tracker, memory_backend):
    register_tracker(make_tracker(backends={"memory": memory_backend}))
    client = Client(enforce_csrf_checks=True)
    token = TOKEN.search(client.get("/").content.decode()).group(1)
    return client, token, memory_backend


def test_django_accepts_a_batch_with_the_csrf_header_or_the_form_field(django_client):
    client, token, backend = django_client
    response = client.post(
        ENDPOINT, data=json.dumps(batch("test.a")), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    body = urlencode({"csrfmiddlewaretoken": token, "events": json.dumps(batch("test.b"))})
    response = client.post(ENDPOINT, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    events = recorded(backend)
    assert [event["name"] for event in events] == ["test.a", "test.b"]
    assert events[0]["context"]["origin"] == "client"
    assert events[0]["context"]["ip"] == "127.0.0.1"
    assert events[0]["context"]["path"] == ENDPOINT


def test_django_protects_the_endpoint_with_its_csrf_machinery(django_client):
    client, _, backend = django_client
    response = client.post(ENDPOINT, data=json.dumps(batch("test.a")), content_type="application/json")
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert recorded(backend) == []


def test_django_rejects_bad_batches_with_the_limits_of_its_settings(django_client):
    client, token, backend = django_client
    too_many = json.dumps(batch("a.a", "a.b", "a.c", "a.d"))
    response = client.post(ENDPOINT, data=too_many, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 413
    assert "at most 3" in response.json()["error"]
    response = client.post(ENDPOINT, data="{", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400
    assert recorded(backend) == []


def test_django_serves_the_script(django_client):
    client, _, _ = django_client
    response = client.get("/eventtracking/tracker.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript"
    assert b"Tracker.emit" in response.content


# End to end: the Flask site in headless Chromium.


def wait_for(backend, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(recorded(backend)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    events = recorded(backend)
    assert len(events) >= count, f"expected {count} event(s), got {events!r}"
    return events


@pytest.fixture
def live_site(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    video = tracker.register(
        "test.video.played", "A learner started a video.", {"position": "Seconds.", "video_id": "Which video."}
    )
    app = create_app(tracker)
    with serving(app) as base:
        yield base, app, memory_backend, video


def test_a_click_in_the_browser_lands_in_the_store_with_the_page_request_context(live_site, chromium):
    base, app, backend, video = live_site
    page = chromium.new_page()
    try:
        page.goto(f"{base}/?flush=100")
        page.click("#play")
        (event,) = wait_for(backend, 1)
        agent = page.evaluate("navigator.userAgent")
    finally:
        page.close()
    assert event["name"] == "test.video.played"
    assert event["name_id"] == video.id
    assert event["data"] == {"position": 12.5, "video_id": "v1"}
    context = event["context"]
    assert context["origin"] == "client"
    assert context["client"]["page"] == f"{base}/"
    assert context["client"]["timestamp"].endswith("Z")
    assert context["ip"] == "127.0.0.1"
    assert context["agent"] == agent
    assert app.config["DELIVERIES"] == ["cors"]  # fetch, while the page is open


def test_events_still_queued_when_the_page_goes_away_are_sent_with_sendbeacon(live_site, chromium):
    base, app, backend, _ = live_site
    page = chromium.new_page()
    try:
        page.goto(f"{base}/?flush=600000")  # the timer would never fire
        page.click("#play")
        page.click("#play")
        assert recorded(backend) == []
        page.goto("about:blank")  # pagehide
        events = wait_for(backend, 2)
    finally:
        page.close()
    assert [event["name"] for event in events] == ["test.video.played", "test.video.played"]
    assert app.config["DELIVERIES"] == ["no-cors"]  # one beacon


def test_the_preprocessing_hook_and_a_pluggable_transport(live_site, chromium):
    base, _, backend, _ = live_site
    page = chromium.new_page()
    try:
        page.goto(f"{base}/?flush=600000")
        sent = page.evaluate(
            """() => {
                const sent = [];
                Tracker.configure({
                    batchSize: 2,
                    context: {screen: "wide"},
                    preprocess: (event) => event.name === "test.ignored" ? null
                        : Object.assign(event, {data: Object.assign({title: document.title}, event.data)}),
                    transport: (request) => {
                        sent.push({endpoint: request.endpoint, beacon: request.beacon, body: request.body.toString(),
                                   events: request.events});
                        return Promise.resolve();
                    },
                });
                Tracker.emit("test.ignored", {});
                Tracker.emit("test.a", {n: 1});
                Tracker.emit("test.b", {n: 2});
                return sent;
            }"""
        )
    finally:
        page.close()
    (request,) = sent
    assert request["endpoint"] == "/eventtracking/events"
    assert request["beacon"] is False
    assert [(event["name"], event["data"]) for event in request["events"]] == [
        ("test.a", {"title": "A video", "n": 1}),
        ("test.b", {"title": "A video", "n": 2}),
    ]
    assert request["events"][0]["context"] == {"page": f"{base}/", "screen": "wide"}
    assert f"{TOKEN_FIELD}=" in request["body"]
    assert recorded(backend) == []


def test_a_batch_the_transport_fails_to_deliver_is_sent_again_later(live_site, chromium):
    base, _, _, _ = live_site
    page = chromium.new_page()
    try:
        page.goto(f"{base}/?flush=600000")
        page.evaluate(
            """() => {
                window.attempts = [];
                Tracker.configure({
                    flushInterval: 50,
                    transport: (request) => {
                        window.attempts.push(request.events.map((event) => event.name));
                        if (window.attempts.length === 1) throw new Error("offline");  // synchronously
                        if (window.attempts.length === 2) return Promise.reject(new Error("503"));
                        return Promise.resolve();
                    },
                });
                Tracker.emit("test.a", {});
                Tracker.flush(false);
                Tracker.emit("test.b", {});
            }"""
        )
        page.wait_for_function("window.attempts.length >= 3", timeout=10000)
        page.wait_for_timeout(300)  # no further attempt once delivered
        attempts = page.evaluate("window.attempts")
    finally:
        page.close()
    assert attempts == [["test.a"], ["test.a", "test.b"], ["test.a", "test.b"]]
