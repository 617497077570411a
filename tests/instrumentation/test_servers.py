"""The example apps under a real gunicorn, with real HTTP requests, instrumented in code or by opentelemetry-instrument.

Events go to a JSON-lines file through the ``eventtracking_logger`` exporter, configured only by
environment variables. A single sync worker serves every request, and a probe event emitted by
the worker before each request (see apps/gunicorn_conf.py) shows what the previous request left
behind: nothing, even after a view that raised and a streamed response. The examples register
their event types (``events.py``) and the instrumentors describe the request context: the worker
writes each one's metadata record once, the events of those types carry the type's id
(``name_id``), and the events emitted inside a request the request context's (``context_type_id``).
A Flask app using Flask-Login (apps/flask_login_app.py) gets its users under opentelemetry-instrument
with no code changes, from ``current_user`` or from the getter ``EVENTTRACKING_FLASK_USER_GETTER`` names.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
import requests
from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking.registry import METADATA_EVENT_NAME
from examples.django_app import events as django_events
from examples.flask_app import events as flask_events
from tests.instrumentation.support import BEARER, OTHER_COOKIE, PASSWORD, assert_no_secrets
from tests.peers.servers import clean_env, gunicorn, read_events

HASH_KEY = "server-test-session-hash-key"
APPS = {
    "flask": ("examples.flask_app.app:app", "session"),
    "django": ("examples.django_app.wsgi:application", "sessionid"),
}
TYPES = {"flask": flask_events.TYPES, "django": django_events.TYPES}
CONTEXTS = {"flask": flask_events.CONTEXTS, "django": django_events.CONTEXTS}
# 5 probes, login, failure, 3 stream chunks, 2 page views; and a metadata record per type and per context
EXPECTED_EVENTS = 12


def documented_events(records: list[dict], framework: str) -> list[dict]:
    """The events among ``records``, once checked against the metadata records (one per type and context)."""
    metadata = [record for record in records if record["name"] == METADATA_EVENT_NAME]
    assert sorted((record["data"] for record in metadata), key=lambda data: data["id"]) == sorted(
        (registered.as_data() for registered in (*TYPES[framework], *CONTEXTS[framework])),
        key=lambda data: data["id"],
    )
    assert all(record["context"] == {} for record in metadata)
    events = [record for record in records if record["name"] != METADATA_EVENT_NAME]
    ids = {registered.name: registered.id for registered in TYPES[framework]}
    for event in events:  # the probe's type is not registered: no id
        assert event.get("name_id") == ids.get(event["name"]), event
    # Emitted inside a request: the request context's id; the probes, emitted before it, have none.
    (request_context,) = CONTEXTS[framework]
    assert request_context.name == "eventtracking.request"
    for event in events:
        in_request = event["name"] != "probe.request_started"
        assert event.get("context_type_id") == (request_context.id if in_request else None), event
    return events


@pytest.mark.parametrize("framework", list(APPS))
@pytest.mark.parametrize(
    ("launch", "trusted_proxies"),
    [("code", "0"), ("opentelemetry-instrument", "1")],
    ids=["instrumented-in-code", "opentelemetry-instrument"],
)
def test_request_context_under_gunicorn(tmp_path, framework, launch, trusted_proxies):
    app, session_cookie = APPS[framework]
    events_file = tmp_path / "events.jsonl"
    env = clean_env(
        DJANGO_SETTINGS_MODULE="examples.django_app.settings",
        EVENTTRACKING_EXPORTERS="eventtracking_logger",
        EVENTTRACKING_LOGGER_FILE=str(events_file),
        EVENTTRACKING_LOGGER_MAX_EVENT_SIZE="0",
        EVENTTRACKING_SCHEDULE_DELAY_MILLIS="50",
        EVENTTRACKING_SESSION_HASH_KEY=HASH_KEY,
        EVENTTRACKING_TRUSTED_PROXY_COUNT=trusted_proxies,
    )
    if launch == "code":
        env["EVENTTRACKING_TEST_INSTRUMENT"] = "code"
    else:  # the stock distro, no code changes: only the entry points apply the instrumentors
        env.update(
            {
                "OTEL_PYTHON_DISTRO": "distro",
                "OTEL_PYTHON_CONFIGURATOR": "configurator",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        )
    browser = {
        "User-Agent": f"server-test/{framework}",
        "Referer": "https://shop.example.com/cart?reset_token=xyz#pay",
        "Accept-Language": "rm-CH",
        "X-Forwarded-For": "203.0.113.9",
        "Authorization": BEARER,
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn(app, env, under_otel=launch != "code", log=log) as url:
        client = requests.Session()
        client.cookies.set("_ga", "GA1.2.555.777")
        client.cookies.set("other", OTHER_COOKIE)
        login = client.post(
            f"{url}/login",
            data={"username": "alice", "password": PASSWORD},
            headers={**browser, "X-Request-ID": "req-1"},
            timeout=10,
        )
        assert login.status_code == 200, log.read_text()
        assert client.get(f"{url}/fail", headers={**browser, "X-Request-ID": "req-2"}, timeout=10).status_code == 500
        streamed = client.get(f"{url}/stream", headers={**browser, "X-Request-ID": "req-3"}, timeout=10)
        assert streamed.text == "chunk 0\nchunk 1\nchunk 2\n"
        session_key = client.cookies[session_cookie]
        assert client.get(f"{url}/", headers={**browser, "X-Request-ID": "req-4"}, timeout=10).ok
        assert requests.get(f"{url}/", timeout=10).ok  # anonymous, no header of ours
        documented = len(TYPES[framework]) + len(CONTEXTS[framework])
        records = read_events(events_file, EXPECTED_EVENTS + documented, log)

    events = documented_events(records, framework)

    probes = [event for event in events if event["name"] == "probe.request_started"]
    assert [probe["data"]["path"] for probe in probes] == ["/login", "/fail", "/stream", "/", "/"]
    assert [probe["context"] for probe in probes] == [{}] * 5

    by_name: dict[str, list[dict]] = {}
    for event in events:
        by_name.setdefault(event["name"], []).append(event)
    (login_event,) = by_name["demo.user.logged_in"]
    (failure,) = by_name["demo.failure.started"]
    chunks = by_name["demo.stream.chunk"]
    viewed, anonymous = by_name["demo.page.viewed"]

    assert login_event["context"]["request_id"] == "req-1" and "user_id" not in login_event["context"]
    assert (failure["context"]["path"], failure["context"]["request_id"], failure["context"]["username"]) == (
        "/fail",
        "req-2",
        "alice",
    )
    assert [chunk["data"]["number"] for chunk in chunks] == [0, 1, 2]
    assert {(chunk["context"]["path"], chunk["context"]["request_id"]) for chunk in chunks} == {("/stream", "req-3")}
    assert viewed["context"] == {
        "user_id": 1,
        "username": "alice",
        "session": hmac.new(HASH_KEY.encode(), session_key.encode(), hashlib.sha256).hexdigest(),
        "ip": "203.0.113.9" if trusted_proxies == "1" else "127.0.0.1",
        "agent": f"server-test/{framework}",
        "host": url.removeprefix("http://"),
        "path": "/",
        "method": "GET",
        "referer": "https://shop.example.com/cart",
        "accept_language": "rm-CH",
        "client_id": "555.777",
        "request_id": "req-4",
    }
    assert set(anonymous["context"]) == {"ip", "agent", "host", "path", "method", "request_id"}
    assert anonymous["context"]["ip"] == "127.0.0.1"
    assert len(anonymous["context"]["request_id"]) == 32

    recorded = events_file.read_text()
    assert_no_secrets(recorded)
    for secret in (session_key, "reset_token"):
        assert secret not in recorded


@pytest.mark.parametrize("user_source", ["flask-login", "environment-getter"])
def test_flask_users_under_gunicorn_and_opentelemetry_instrument(tmp_path, user_source):
    """No code changes: Flask-Login's current_user, or the getter the environment names, is the user."""
    events_file = tmp_path / "events.jsonl"
    env = clean_env(
        OTEL_PYTHON_DISTRO="distro",
        OTEL_PYTHON_CONFIGURATOR="configurator",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        EVENTTRACKING_EXPORTERS="eventtracking_logger",
        EVENTTRACKING_LOGGER_FILE=str(events_file),  # at the default size limit, which metadata records ignore
        EVENTTRACKING_SCHEDULE_DELAY_MILLIS="50",
    )
    if user_source == "environment-getter":  # imported at start-up, before the app
        env["EVENTTRACKING_FLASK_USER_GETTER"] = "tests.instrumentation.apps.user_getters:header_user"
    log = tmp_path / "gunicorn.log"
    with gunicorn("tests.instrumentation.apps.flask_login_app:app", env, under_otel=True, log=log) as url:
        client = requests.Session()
        assert client.post(f"{url}/login", data={"username": "alice"}, timeout=10).ok, log.read_text()
        assert client.get(f"{url}/", headers={"X-Test-User": "zoe"}, timeout=10).ok
        records = read_events(events_file, 5, log)  # 2 probes, login, page view; the request context's record

    (metadata,) = [record for record in records if record["name"] == METADATA_EVENT_NAME]
    assert metadata["data"] == REQUEST_CONTEXT.as_data()
    by_name = {record["name"]: record for record in records if record["name"] != "probe.request_started"}
    login, viewed = by_name["login.done"], by_name["page.viewed"]
    assert "user_id" not in login["context"]  # anonymous when the request began
    if user_source == "flask-login":
        assert (viewed["context"]["user_id"], viewed["context"]["username"]) == (1, "alice")
        assert viewed["data"] == {"user_loaded": True}
    else:
        assert (viewed["context"]["user_id"], viewed["context"]["username"]) == ("user-zoe", "zoe")
        assert viewed["data"] == {"user_loaded": False}
    assert login["context_type_id"] == viewed["context_type_id"] == REQUEST_CONTEXT.id
