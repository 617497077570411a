"""The examples' page in headless Chromium, the app under opentelemetry-instrument and gunicorn.

A logged-in visitor opens ``/page`` and clicks its button; the page's ``Tracker.emit`` queues the
event, the browser client posts it to the blueprint's endpoint, and the app (configured only by
environment variables: this package's distro, events to a JSON-lines file and to MongoDB) stores it
with ``origin: "client"``, the request context of the browser's request (user, hashed session,
address, user agent, the endpoint's path), the ``name_id`` of the type the example registers and
the ``context_type_id`` of the request context, whose documentation is in MongoDB too. What the
client puts in its own context lands under ``client`` and never changes who the server says the
visitor is. The Django example's page does the same through Django's CSRF machinery, with its
signed-cookie sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventtracking.registry import DEFAULT_METADATA_COLLECTION, METADATA_EVENT_NAME, metadata_from_record
from examples.django_app import events as django_events
from examples.flask_app import events as flask_events
from tests.peers.mongodb import client_for
from tests.peers.servers import clean_env, gunicorn, wait_for

pytestmark = pytest.mark.timeout(60)

HASH_KEY = "browser-e2e-session-hash-key"
CLICKED = "demo.button.clicked"
ENDPOINT = "/eventtracking/events"
FORGED = {"user_id": 2, "username": "bob", "ip": "203.0.113.66", "session": "forged", "origin": "server"}
(REQUEST_CONTEXT,) = flask_events.CONTEXTS


@contextlib.contextmanager
def serving(app: str, tmp_path: Path, mongo_uri: str, mongo_database: str) -> Iterator[dict[str, Any]]:
    """An example under opentelemetry-instrument gunicorn; its events go to a file and to MongoDB."""
    events_file = tmp_path / "events.jsonl"
    env = clean_env(
        OTEL_PYTHON_DISTRO="eventtracking",
        OTEL_SERVICE_NAME="browser-e2e",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="eventtracking_logger,eventtracking_mongodb",
        EVENTTRACKING_LOGGER_FILE=str(events_file),
        EVENTTRACKING_LOGGER_MAX_EVENT_SIZE="0",
        EVENTTRACKING_MONGODB_URI=mongo_uri,
        EVENTTRACKING_MONGODB_DATABASE=mongo_database,
        EVENTTRACKING_SCHEDULE_DELAY_MILLIS="50",
        EVENTTRACKING_SESSION_HASH_KEY=HASH_KEY,
        DJANGO_SETTINGS_MODULE="examples.django_app.settings",
    )
    log = tmp_path / "gunicorn.log"
    with client_for(mongo_uri) as client:
        database = client[mongo_database]
        with gunicorn(app, env, under_otel=True, log=log) as url:
            yield {"url": url, "database": database, "events_file": events_file, "log": log}


@pytest.fixture
def example(tmp_path: Path, mongo_server, mongo_database) -> Iterator[dict[str, Any]]:
    """The Flask example."""
    with serving("examples.flask_app.app:app", tmp_path, mongo_server.uri, mongo_database) as served:
        yield served


def stored_clicks(example: dict[str, Any]) -> Callable[[], list[dict]]:
    """The clicks in MongoDB, in the order they were made."""
    return lambda: list(example["database"]["events"].find({"name": CLICKED}).sort("data.clicks"))


def session_hash(cookies: list[dict]) -> str:
    (cookie,) = [cookie for cookie in cookies if cookie["name"] == "session"]
    return hmac.new(HASH_KEY.encode(), cookie["value"].encode(), hashlib.sha256).hexdigest()


def open_page(context: Any, url: str, log: Path, user: str | None = None) -> Any:
    """The example's /page in a browser context, after logging in as ``user`` when one is given."""
    if user is not None:
        login = context.request.post(f"{url}/login", form={"username": user, "password": "pw"}, timeout=10000)
        assert login.ok, log.read_text()
    page = context.new_page()
    page.set_default_timeout(10000)
    page.goto(f"{url}/page")
    assert page.text_content("h1") == f"Hello, {user or 'visitor'}"
    return page


def test_a_click_on_the_example_page_is_stored_with_the_page_request_context(example, chromium):
    url, database, log = example["url"], example["database"], example["log"]
    context = chromium.new_context()
    try:
        page = open_page(context, url, log, user="alice")
        page.click("#like")  # sent by the client's timer, flushInterval later
        (clicked,) = wait_for(stored_clicks(example), 1, "the click in MongoDB", log)
        agent = page.evaluate("navigator.userAgent")
        session = session_hash(context.cookies(url))

        # A page that tries to pass for another user: its context goes under "client", nothing more.
        page.evaluate("(forged) => Tracker.configure({context: forged})", FORGED)
        page.click("#like")
        page.evaluate("Tracker.flush(false)")
        _, forged = wait_for(stored_clicks(example), 2, "the forged click in MongoDB", log)
    finally:
        context.close()

    assert clicked["name_id"] == forged["name_id"] == flask_events.BUTTON_CLICKED.id
    assert clicked["context_type_id"] == forged["context_type_id"] == REQUEST_CONTEXT.id
    assert clicked["data"] == {"button": "like", "clicks": 1}
    assert len(clicked["trace_id"]) == 32  # the trace of the endpoint's request
    expected = {
        "user_id": 1,
        "username": "alice",
        "session": session,
        "ip": "127.0.0.1",
        "agent": agent,
        "host": url.removeprefix("http://"),
        "path": ENDPOINT,
        "method": "POST",
        "referer": f"{url}/page",
        "origin": "client",
    }
    assert expected.items() <= clicked["context"].items()
    assert clicked["context"]["client"]["page"] == f"{url}/page"
    assert clicked["context"]["client"]["timestamp"].endswith("Z")
    assert len(clicked["context"]["request_id"]) == 32

    assert forged["data"] == {"button": "like", "clicks": 2}
    assert expected.items() <= forged["context"].items()
    client_context = dict(forged["context"]["client"])
    assert client_context.pop("timestamp").endswith("Z")
    assert client_context == {**FORGED, "page": f"{url}/page"}

    # The server's view of the page itself: the same visitor, browser and address.
    (viewed,) = database["events"].find({"name": "demo.page.viewed", "data.page": "button"})
    assert (viewed["name_id"], viewed["context_type_id"]) == (flask_events.PAGE_VIEWED.id, REQUEST_CONTEXT.id)
    assert {key: viewed["context"][key] for key in ("user_id", "username", "ip", "agent", "path")} == {
        **{key: expected[key] for key in ("user_id", "username", "ip", "agent")},
        "path": "/page",
    }

    # An analyst joins the click to the documentation of its type and of its context.
    def documented() -> list[Any]:
        records = list(database[DEFAULT_METADATA_COLLECTION].find())
        records += list(database["events"].find({"name": METADATA_EVENT_NAME}))
        return [found[0] for found in map(metadata_from_record, records) if found is not None]

    expected_metadata = (*flask_events.TYPES, *flask_events.CONTEXTS)
    types = {metadata.id: metadata for metadata in wait_for(documented, len(expected_metadata), "metadata", log)}
    assert types[clicked["name_id"]] == flask_events.BUTTON_CLICKED
    assert types[clicked["context_type_id"]] == REQUEST_CONTEXT
    assert set(types) == {metadata.id for metadata in expected_metadata}

    # The JSON-lines file holds the same clicks.
    def logged_clicks() -> list[dict]:
        lines = example["events_file"].read_text().splitlines() if example["events_file"].exists() else []
        return [event for event in map(json.loads, lines) if event["name"] == CLICKED]

    logged = wait_for(logged_clicks, 2, "the clicks in the JSON-lines file", log)
    assert [(line["data"], line["context"], line["name_id"], line["context_type_id"]) for line in logged] == [
        (event["data"], event["context"], event["name_id"], event["context_type_id"]) for event in (clicked, forged)
    ]


def test_an_anonymous_page_cannot_claim_a_user(example, chromium):
    url, log = example["url"], example["log"]
    context = chromium.new_context()
    try:
        page = open_page(context, url, log)
        page.evaluate("(forged) => Tracker.configure({context: forged})", FORGED)
        page.click("#like")
        page.evaluate("Tracker.flush(false)")
        (clicked,) = wait_for(stored_clicks(example), 1, "the anonymous click in MongoDB", log)
        agent = page.evaluate("navigator.userAgent")
    finally:
        context.close()

    context = clicked["context"]
    assert not {"user_id", "username"} & context.keys()
    expected = {"origin": "client", "ip": "127.0.0.1", "agent": agent, "path": ENDPOINT, "method": "POST"}
    assert expected.items() <= context.items()
    assert len(context["session"]) == 64 and context["session"] != "forged"  # the CSRF nonce made a session
    assert context["client"]["user_id"] == 2
    assert (clicked["name_id"], clicked["context_type_id"]) == (flask_events.BUTTON_CLICKED.id, REQUEST_CONTEXT.id)


def test_the_django_example_page_sends_its_clicks_through_django_csrf_machinery(
    tmp_path, mongo_server, mongo_database, chromium
):
    app = "examples.django_app.wsgi:application"
    with serving(app, tmp_path, mongo_server.uri, mongo_database) as example:
        url, log = example["url"], example["log"]
        context = chromium.new_context()
        try:
            page = open_page(context, url, log, user="alice")
            page.click("#like")
            page.evaluate("Tracker.flush(false)")
            (clicked,) = wait_for(stored_clicks(example), 1, "the click in MongoDB", log)
            agent = page.evaluate("navigator.userAgent")
            # Without the token, Django's CSRF check refuses the batch, session cookie or not.
            batch = json.dumps({"events": [{"name": CLICKED, "data": {"button": "like", "clicks": 9}}]})
            refused = context.request.post(f"{url}{ENDPOINT}", form={"events": batch}, timeout=10000)
        finally:
            context.close()
        assert refused.status == 403
        assert len(stored_clicks(example)()) == 1

    assert clicked["name_id"] == django_events.BUTTON_CLICKED.id == flask_events.BUTTON_CLICKED.id
    assert clicked["context_type_id"] == REQUEST_CONTEXT.id
    assert clicked["data"] == {"button": "like", "clicks": 1}
    expected = {
        "user_id": 1,
        "username": "alice",
        "ip": "127.0.0.1",
        "agent": agent,
        "path": ENDPOINT,
        "method": "POST",
        "referer": f"{url}/page",
        "origin": "client",
    }
    assert expected.items() <= clicked["context"].items()
    assert len(clicked["context"]["session"]) == 64
    assert clicked["context"]["client"]["page"] == f"{url}/page"
