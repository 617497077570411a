"""examples/two_services under opentelemetry-instrument: what crosses between the services, and what does not.

Each service also writes the request context's metadata record once (the instrumentor describes
it), and its events, emitted inside a request, carry that context's ``context_type_id``.
"""

from __future__ import annotations

import requests
from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking.registry import METADATA_EVENT_NAME
from tests.peers.servers import clean_env, free_port, gunicorn, read_events

SECRETS_OF_THE_FRONT = ("user_id", "username", "ip", "session", "agent", "request_id")


def service_env(name: str, events_file, **extra: str) -> dict[str, str]:
    return clean_env(
        OTEL_PYTHON_DISTRO="eventtracking",
        OTEL_SERVICE_NAME=name,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="eventtracking_logger",
        EVENTTRACKING_LOGGER_FILE=str(events_file),
        EVENTTRACKING_LOGGER_MAX_EVENT_SIZE="0",
        EVENTTRACKING_SCHEDULE_DELAY_MILLIS="50",
        EVENTTRACKING_SESSION_HASH_KEY="two-services-test",
        **extra,
    )


def without_probes(events: list[dict]) -> list[dict]:
    """The service's own events: not the probes, and the one metadata record, the request context's."""
    metadata = [event["data"] for event in events if event["name"] == METADATA_EVENT_NAME]
    assert metadata == [REQUEST_CONTEXT.as_data()]
    return [event for event in events if event["name"] not in ("probe.request_started", METADATA_EVENT_NAME)]


def test_only_allowed_context_crosses_and_clients_cannot_forge_it(tmp_path):
    back_events, front_events = tmp_path / "back.jsonl", tmp_path / "front.jsonl"
    back_port = free_port()
    back_env = service_env("backend", back_events, EVENTTRACKING_ACCEPT_BAGGAGE_KEYS="course_id")
    front_env = service_env(
        "frontend",
        front_events,
        EVENTTRACKING_PROPAGATE_KEYS="course_id",
        BACKEND_URL=f"http://127.0.0.1:{back_port}",
    )
    back_log, front_log = tmp_path / "back.log", tmp_path / "front.log"
    with (
        gunicorn("examples.two_services.backend:app", back_env, under_otel=True, log=back_log, port=back_port) as back,
        gunicorn("examples.two_services.frontend:app", front_env, under_otel=True, log=front_log) as front,
    ):
        reply = requests.post(
            f"{front}/checkout/course-v1:edX+Demo+2026",
            headers={"X-Demo-User": "alice", "baggage": "user_id=666"},
            timeout=20,
        )
        assert reply.ok, front_log.read_text()
        forged = requests.post(
            f"{back}/charge", json={"amount": 1}, headers={"baggage": "user_id=666,course_id=forged"}, timeout=10
        )
        assert forged.ok, back_log.read_text()
        # Each worker also writes a probe event before every request (tests/instrumentation/apps/gunicorn_conf.py),
        # and the request context's metadata record.
        started, finished = without_probes(read_events(front_events, 4, front_log))
        charged, forged_charge = without_probes(read_events(back_events, 5, back_log))

    assert started["context"]["user_id"] == 1 and started["context"]["course_id"] == "course-v1:edX+Demo+2026"
    assert finished["data"] == {"charged": True}
    # The course context, entered inside the request, is not described: the request context's id.
    for event in (started, finished, charged, forged_charge):
        assert event["context_type_id"] == REQUEST_CONTEXT.id, event

    # The allowed key crossed; nothing else of the front's context did.
    assert charged["data"]["baggage"] == "course_id=course-v1%3AedX%2BDemo%2B2026"
    assert charged["context"]["course_id"] == "course-v1:edX+Demo+2026"
    assert "user_id" not in charged["context"]
    assert charged["context"]["path"] == "/charge"

    # A client's baggage sets only what the back service accepts, and never user_id.
    assert forged_charge["context"]["course_id"] == "forged"
    assert "user_id" not in forged_charge["context"]
    for key in SECRETS_OF_THE_FRONT:
        assert key not in (charged["data"]["baggage"] or "")
