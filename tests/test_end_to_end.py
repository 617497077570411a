"""The example apps, unmodified, under opentelemetry-instrument and gunicorn: events reach OTLP and MongoDB.

Only environment variables configure them: this package's distro, ``OTEL_LOGS_EXPORTER=otlp,
eventtracking_mongodb``, the OTLP endpoint of a local receiver and the test MongoDB server. Each
event arrives with its request context and the trace id of the request's server span, which
continues the trace the test sends in ``traceparent``, with the ``name_id`` of its type,
registered by the example (``events.py``), and the ``context_type_id`` of the request context,
described by the instrumentors; the metadata records of both reach both stores too.
"""

from __future__ import annotations

import datetime

import pytest
import requests

from eventtracking.registry import DEFAULT_METADATA_COLLECTION, METADATA_EVENT_NAME, metadata_from_record
from examples.django_app import events as django_events
from examples.flask_app import events as flask_events
from tests.peers.mongodb import client_for
from tests.peers.servers import clean_env, gunicorn, wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
APPS = {
    "flask": "examples.flask_app.app:app",
    "django": "examples.django_app.wsgi:application",
}
TYPES = {"flask": flask_events.TYPES, "django": django_events.TYPES}
CONTEXTS = {"flask": flask_events.CONTEXTS, "django": django_events.CONTEXTS}
# The metadata each app writes once: its event types, and the request context.
DOCUMENTED = {framework: (*TYPES[framework], *CONTEXTS[framework]) for framework in APPS}


@pytest.mark.parametrize("framework", list(APPS))
def test_events_reach_otlp_and_mongodb_with_request_context_and_trace(
    framework, tmp_path, otlp_http_receiver, mongo_server, mongo_database
):
    env = clean_env(
        OTEL_PYTHON_DISTRO="eventtracking",
        OTEL_SERVICE_NAME=f"{framework}-e2e",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="otlp,eventtracking_mongodb",
        **otlp_http_receiver.env(),
        EVENTTRACKING_MONGODB_URI=mongo_server.uri,
        EVENTTRACKING_MONGODB_DATABASE=mongo_database,
        EVENTTRACKING_SCHEDULE_DELAY_MILLIS="50",
        EVENTTRACKING_SESSION_HASH_KEY="e2e",
        DJANGO_SETTINGS_MODULE="examples.django_app.settings",
    )
    log = tmp_path / "gunicorn.log"
    with gunicorn(APPS[framework], env, under_otel=True, log=log) as url:
        browser = requests.Session()
        assert browser.post(f"{url}/login", data={"username": "alice", "password": "pw"}, timeout=10).ok
        traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
        reply = browser.get(f"{url}/", headers={"traceparent": traceparent, "X-Request-ID": "e2e-1"}, timeout=10)
        assert reply.ok, log.read_text()

        def viewed_in_otlp():
            return [item for item in otlp_http_receiver.logs.items if item.event_name == "demo.page.viewed"]

        def metadata_in_otlp():
            return [item for item in otlp_http_receiver.logs.items if item.event_name == METADATA_EVENT_NAME]

        (received,) = wait_for(viewed_in_otlp, 1, "OTLP", log, timeout=15)
        metadata_received = wait_for(metadata_in_otlp, len(DOCUMENTED[framework]), "OTLP metadata", log, timeout=15)
        with client_for(mongo_server.uri) as client:
            collection = client[mongo_database]["events"]
            (stored,) = wait_for(
                lambda: list(collection.find({"name": "demo.page.viewed"})), 1, "MongoDB", log, timeout=15
            )

            def metadata_in_mongodb():
                # In their own collection, keyed by id (or, from an exporter that keeps them with the
                # events, as metadata records): either way the documentation of each type.
                documents = list(client[mongo_database][DEFAULT_METADATA_COLLECTION].find())
                documents += list(collection.find({"name": METADATA_EVENT_NAME}))
                return [found[0] for found in map(metadata_from_record, documents) if found is not None]

            metadata_stored = wait_for(
                metadata_in_mongodb, len(DOCUMENTED[framework]), "MongoDB metadata", log, timeout=15
            )

    registered = {metadata.id: metadata for metadata in DOCUMENTED[framework]}
    assert sorted(item.body["data"]["id"] for item in metadata_received) == sorted(registered)
    assert all(registered[item.body["data"]["id"]].as_data() == item.body["data"] for item in metadata_received)
    assert {metadata.id: metadata for metadata in metadata_stored} == registered
    name_id = flask_events.PAGE_VIEWED.id if framework == "flask" else django_events.PAGE_VIEWED.id
    assert received.body["name_id"] == stored["name_id"] == name_id
    (request_context,) = CONTEXTS[framework]
    assert received.body["context_type_id"] == stored["context_type_id"] == request_context.id
    assert registered[stored["context_type_id"]].name == "eventtracking.request"

    expected_context = {"user_id": 1, "username": "alice", "path": "/", "method": "GET", "request_id": "e2e-1"}
    assert received.trace_id == TRACE_ID
    assert received.resource["service.name"] == f"{framework}-e2e"
    assert received.scope == "eventtracking"
    assert received.body["data"] == {"page": "home"}
    assert expected_context.items() <= received.body["context"].items()
    assert expected_context.items() <= received.attributes.items()

    assert stored["trace_id"] == TRACE_ID
    assert stored["span_id"] == received.span_id
    assert isinstance(stored["timestamp"], datetime.datetime)
    assert stored["data"] == {"page": "home"}
    assert expected_context.items() <= stored["context"].items()
    assert len(stored["context"]["session"]) == 64
