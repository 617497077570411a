"""Tracker.emit: the event, its OTel log record, its span event, and what it never does (raise)."""

from __future__ import annotations

import datetime
import decimal
import logging
import threading

import pytest
from opentelemetry.sdk._logs import LoggerProvider

from eventtracking import diagnostics
from eventtracking import tracker as tracker_module
from eventtracking.processors.exceptions import EventEmissionExit
from eventtracking.tracker import Tracker


def test_emit_records_one_log_record_with_event_name_nested_body_and_context_attributes(make_tracker, otel_logs):
    provider, exporter = otel_logs
    tracker = make_tracker(logger_provider=provider)
    with tracker.context("request", {"user_id": 7, "course": {"id": "c1", "org": "edX"}}):
        tracker.emit("course.viewed", {"page": {"n": 2, "tags": ["a", "b"]}, "at": datetime.date(2026, 1, 2)})

    (readable,) = exporter.get_finished_logs()
    record = readable.log_record
    assert record.event_name == "course.viewed"
    body = record.body
    assert body["name"] == "course.viewed"
    assert body["data"] == {"page": {"n": 2, "tags": ["a", "b"]}, "at": "2026-01-02"}
    assert body["context"] == {"user_id": 7, "course": {"id": "c1", "org": "edX"}}
    emitted = datetime.datetime.fromisoformat(body["timestamp"])
    assert emitted.utcoffset() == datetime.timedelta(0)
    assert record.timestamp == int(emitted.timestamp()) * 10**9 + emitted.microsecond * 1000
    assert dict(record.attributes) == {"user_id": 7, "course.id": "c1", "course.org": "edX"}
    assert readable.instrumentation_scope.name == "eventtracking"
    assert record.trace_id == 0


def test_emit_inside_a_span_carries_its_trace_and_adds_a_span_event(make_tracker, otel_logs, tracer):
    provider, exporter = otel_logs
    sdk_tracer, spans = tracer
    tracker = make_tracker(logger_provider=provider)
    with sdk_tracer.start_as_current_span("request") as span:
        with tracker.context("request", {"user_id": 7}):
            tracker.emit("video.played", {"position": 12.5})
    (readable,) = exporter.get_finished_logs()
    assert readable.log_record.trace_id == span.get_span_context().trace_id
    assert readable.log_record.span_id == span.get_span_context().span_id
    (finished,) = spans.get_finished_spans()
    (span_event,) = finished.events
    assert span_event.name == "video.played"
    assert dict(span_event.attributes) == {"context.user_id": 7, "data.position": 12.5}
    assert finished.attributes["user_id"] == 7


def test_span_events_can_be_disabled_by_environment(make_tracker, tracer, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_SPAN_EVENTS", "false")
    sdk_tracer, spans = tracer
    tracker = make_tracker()
    with sdk_tracer.start_as_current_span("request"):
        tracker.emit("video.played", {})
    assert spans.get_finished_spans()[0].events == ()


def test_backends_get_the_original_event_synchronously_in_name_order(make_tracker):
    received = []

    class Backend:
        def __init__(self, label):
            self.label = label

        def send(self, event):
            received.append((self.label, threading.get_ident(), event))

    moment = datetime.datetime(2020, 1, 1, 12, 0)
    tracker = make_tracker(backends={"b": Backend("b"), "a": Backend("a"), "c": Backend("c")})
    tracker.emit("thing.done", {"amount": decimal.Decimal("1.10"), "when": moment, "tags": {"x"}})

    assert [label for label, _, _ in received] == ["a", "b", "c"]
    assert {thread for _, thread, _ in received} == {threading.get_ident()}
    event = received[0][2]
    assert set(event) == {"name", "timestamp", "context", "data"}
    assert event["data"] == {"amount": decimal.Decimal("1.10"), "when": moment, "tags": {"x"}}
    assert event["context"] == {}


def test_processors_cannot_change_the_callers_data(make_tracker, memory_backend):
    def annotate(event):
        event["data"]["nested"]["seen"] = True
        event["data"]["added"] = 1

    data = {"nested": {"value": 1}}
    tracker = make_tracker(backends={"memory": memory_backend}, processors=[annotate])
    tracker.emit("x", data)
    assert data == {"nested": {"value": 1}}
    assert memory_backend.events[0]["data"] == {"nested": {"value": 1, "seen": True}, "added": 1}


def test_a_dropped_event_reaches_neither_backends_nor_the_provider(make_tracker, otel_logs, memory_backend):
    provider, exporter = otel_logs

    def drop(event):
        raise EventEmissionExit

    tracker = make_tracker(backends={"memory": memory_backend}, processors=[drop], logger_provider=provider)
    tracker.emit("x", {})
    assert memory_backend.events == []
    assert exporter.get_finished_logs() == ()


def test_emit_never_raises_and_logs_what_went_wrong(make_tracker, memory_backend, caplog):
    class Broken:
        def send(self, event):
            raise RuntimeError("backend down")

    def failing_processor(event):
        raise ValueError("bad processor")

    tracker = make_tracker(backends={"a_broken": Broken(), "memory": memory_backend}, processors=[failing_processor])
    with caplog.at_level(logging.WARNING):
        tracker.emit("x", {"k": 1})
    assert [event["name"] for event in memory_backend.events] == ["x"]
    messages = caplog.text
    assert "Failed to execute processor" in messages and "bad processor" in messages
    assert 'Unable to send edx event "x" to backend: a_broken' in messages
    assert diagnostics.counts()["processor_error"] == 1
    assert diagnostics.counts()["backend_error"] == 1


def test_missing_name_and_non_dict_data_are_warned_and_still_recorded(make_tracker, memory_backend, caplog):
    tracker = make_tracker(backends={"memory": memory_backend})
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        tracker.emit(None, {"k": 1})
        tracker.emit("listed", ["a", "b"])
        tracker.emit("empty")
    assert [(event["name"], event["data"]) for event in memory_backend.events] == [
        ("unknown", {"k": 1}),
        ("listed", ["a", "b"]),
        ("empty", {}),
    ]
    assert "emitted without a name" in caplog.text
    assert "Event 'listed' was emitted with data of type list" in caplog.text
    assert diagnostics.counts()["missing_name"] == 1
    assert diagnostics.counts()["data_not_dict"] == 1


def test_non_serializable_values_are_warned_and_recorded_by_the_portable_rule(make_tracker, otel_logs, caplog):
    provider, exporter = otel_logs

    class Opaque:
        def __str__(self):
            return "opaque!"

    tracker = make_tracker(logger_provider=provider)
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        tracker.emit("x", {"thing": Opaque(), "fine": 1})
        (readable,) = exporter.get_finished_logs()
    assert readable.log_record.body["data"] == {"thing": "opaque!", "fine": 1}
    assert "Event value at 'data.thing' is a Opaque, which is not serializable" in caplog.text
    assert diagnostics.counts()["not_serializable"] == 1


def test_a_failing_provider_processor_does_not_stop_the_backends(make_tracker, memory_backend, caplog):
    class Exploding:
        def on_emit(self, record):
            raise RuntimeError("boom")

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(Exploding())
    tracker = make_tracker(backends={"memory": memory_backend}, logger_provider=provider)
    tracker.emit("x", {})
    assert len(memory_backend.events) == 1
    assert "A processor of the LoggerProvider failed" in caplog.text


def test_without_global_provider_the_tracker_owns_one(make_tracker):
    tracker = make_tracker()
    assert isinstance(tracker.logger_provider, LoggerProvider)
    assert tracker._owns_provider


def test_with_a_global_provider_events_flow_to_its_exporters(make_tracker, global_logger_provider, memory_backend):
    provider, exporter = global_logger_provider
    tracker = make_tracker(backends={"memory": memory_backend})
    assert tracker.logger_provider is provider
    tracker.emit("x", {"k": 1})
    assert [log.log_record.event_name for log in exporter.get_finished_logs()] == ["x"]
    assert len(memory_backend.events) == 1


def test_default_tracker_under_a_global_provider_has_no_backends(global_logger_provider, monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_EXPORTERS", raising=False)
    _provider, exporter = global_logger_provider
    tracker_module.emit("x", {"k": 1})
    assert tracker_module.get_tracker().backends == {}
    assert [log.log_record.body["data"] for log in exporter.get_finished_logs()] == [{"k": 1}]


def test_default_tracker_exporters_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "console, eventtracking_logger")
    assert list(tracker_module.get_tracker().backends) == ["console", "eventtracking_logger"]


def test_an_unknown_exporter_name_fails_clearly(monkeypatch):
    from eventtracking.exceptions import ImproperlyConfigured

    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "nope")
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_EXPORTERS: no log exporter named 'nope'"):
        tracker_module.get_tracker()


def test_registry_functions(memory_backend):
    named = Tracker(backends={"memory": memory_backend})
    tracker_module.register_tracker(named, "mine")
    assert tracker_module.get_tracker("mine") is named
    with pytest.raises(KeyError):
        tracker_module.get_tracker("other")
    tracker_module.register_tracker(named)
    tracker_module.emit("via.module", {"a": 1})
    assert memory_backend.events[0]["name"] == "via.module"


def test_seed_accessors(make_tracker, memory_backend):
    def processor(event):
        return event

    tracker = make_tracker(backends={"memory": memory_backend}, processors=[processor])
    assert tracker.get_backend("memory") is memory_backend
    assert list(tracker.backends) == ["memory"]
    assert tracker.processors == [processor]
    tracker.enter_context("outer", {"a": 1})
    assert dict(tracker.located_context) == {"outer": {"a": 1}}
    tracker.exit_context("outer")
    assert dict(tracker.located_context) == {}


def test_bad_environment_values_fail_at_configuration(monkeypatch):
    from eventtracking.exceptions import ImproperlyConfigured

    monkeypatch.setenv("EVENTTRACKING_SPAN_EVENTS", "maybe")
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_SPAN_EVENTS"):
        Tracker()


def test_module_emit_never_raises_even_without_a_default_tracker(monkeypatch, caplog):
    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "nope")
    tracker_module.emit("x", {})
    assert "No default tracker for event 'x'" in caplog.text
    assert diagnostics.counts()["emit_error"] == 1


def test_a_global_provider_without_processors_does_not_swallow_the_default_trackers_events(monkeypatch):
    """opentelemetry-instrument sets a global provider even when OTEL_LOGS_EXPORTER names no exporter."""
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.util._once import Once

    monkeypatch.delenv("EVENTTRACKING_EXPORTERS", raising=False)
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal.set_logger_provider(LoggerProvider(shutdown_on_exit=False))
    try:
        assert list(tracker_module.get_tracker().backends) == ["eventtracking_logger"]
    finally:
        logs_internal._LOGGER_PROVIDER = None
        logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
