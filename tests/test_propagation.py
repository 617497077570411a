"""Only allowed context keys leave the process; only allowed baggage keys come in, beneath ours."""

from __future__ import annotations

from opentelemetry import baggage, propagate
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util._importlib_metadata import entry_points

from eventtracking.propagation import EventTrackingBaggagePropagator, GuardedPropagator

REQUEST = {"user_id": 5, "ip": "10.0.0.1", "session": "abc", "course_id": "course-v1:X+Y+Z"}


def outgoing_headers():
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def test_stock_propagators_carry_no_context_key_by_default(make_tracker, monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_PROPAGATE_KEYS", raising=False)
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    tracker = make_tracker()
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    with tracker.context("request", REQUEST):
        assert baggage.get_all()["user_id"] == "5"
        headers = outgoing_headers()
    otel_context.detach(token)
    assert isinstance(propagate.get_global_textmap(), GuardedPropagator)
    assert headers == {"baggage": "tenant=acme"}


def test_allowed_keys_leave_encoded(make_tracker, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_PROPAGATE_KEYS", "course_id, missing")
    tracker = make_tracker()
    with tracker.context("request", REQUEST):
        headers = outgoing_headers()
    assert headers["baggage"] == "course_id=course-v1%3AX%2BY%2BZ"
    assert all(secret not in headers["baggage"] for secret in ("user_id", "ip", "session"))


def test_process_wide_keys_can_be_allowed_out(make_tracker, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_PROPAGATE_KEYS", "release")
    tracker = make_tracker()
    tracker.enter_context("deployment", {"release": 42, "host": "web-1"}, process_wide=True)
    try:
        assert outgoing_headers()["baggage"] == "release=42"
    finally:
        tracker.exit_context("deployment")


def extracted(header, tracker, server_context=None):
    context = propagate.extract({"baggage": header})
    token = otel_context.attach(context)
    try:
        if server_context is None:
            return tracker.resolve_context()
        with tracker.context("request", server_context):
            return tracker.resolve_context()
    finally:
        otel_context.detach(token)


def test_incoming_baggage_is_ignored_unless_accepted(make_tracker, monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_ACCEPT_BAGGAGE_KEYS", raising=False)
    tracker = make_tracker()
    assert extracted("user_id=666,course_id=c1", tracker) == {}


def test_accepted_keys_are_decoded_and_never_override_the_server(make_tracker, monkeypatch, memory_backend):
    monkeypatch.setenv("EVENTTRACKING_ACCEPT_BAGGAGE_KEYS", "user_id,course_id,attempt")
    tracker = make_tracker(backends={"memory": memory_backend})
    header = "user_id=666,course_id=c1,attempt=3,tenant=acme"
    assert extracted(header, tracker) == {"user_id": 666, "course_id": "c1", "attempt": 3}
    assert extracted(header, tracker, {"user_id": 5}) == {"user_id": 5, "course_id": "c1", "attempt": 3}
    tracker.enter_context("deployment", {"course_id": "from-server"}, process_wide=True)
    try:
        assert extracted(header, tracker)["course_id"] == "from-server"
    finally:
        tracker.exit_context("deployment")


def test_the_propagator_entry_point_applies_the_same_rules(make_tracker, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_PROPAGATE_KEYS", "course_id")
    (point,) = entry_points(group="opentelemetry_propagator", name="eventtracking_baggage")
    propagator = point.load()()
    assert isinstance(propagator, EventTrackingBaggagePropagator)
    tracker = make_tracker()
    carrier: dict[str, str] = {}
    with tracker.context("request", REQUEST):
        propagator.inject(carrier)
    assert carrier == {"baggage": "course_id=course-v1%3AX%2BY%2BZ"}
