"""Routing trees: processors, branches, EventEmissionExit per branch, in seed and in OTel terms."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from eventtracking.backends.routing import RoutingBackend
from eventtracking.batching import EventBatchProcessor
from eventtracking.processors.exceptions import EventEmissionExit, NoBackendEnabled, NoTransformerImplemented
from eventtracking.processors.regex_filter import RegexFilter
from eventtracking.processors.whitelist import NameWhitelistProcessor
from eventtracking.routing import EventRouter
from tests.conftest import MemoryBackend


def tag(label):
    def processor(event):
        event["data"].setdefault("tags", []).append(label)
        return event

    return processor


def test_seed_routing_tree_processes_root_then_each_branch_in_isolation(make_tracker):
    only_enrollments = MemoryBackend()
    everything = MemoryBackend()
    tracker = make_tracker(
        backends={
            "enrollments": RoutingBackend(
                processors=[RegexFilter("allowlist", [r"^enrollment\."]), tag("branch")],
                backends={"store": only_enrollments},
            ),
            "all": RoutingBackend(backends={"store": everything}),
        },
        processors=[tag("root")],
    )
    tracker.emit("enrollment.created", {})
    tracker.emit("video.played", {})
    assert [(e["name"], e["data"]["tags"]) for e in only_enrollments.events] == [
        ("enrollment.created", ["root", "branch"])
    ]
    assert [(e["name"], e["data"]["tags"]) for e in everything.events] == [
        ("enrollment.created", ["root"]),
        ("video.played", ["root"]),
    ]


def test_the_same_tree_in_otel_terms_on_a_logger_provider(make_tracker):
    enrollments = InMemoryLogRecordExporter()
    everything = MemoryBackend()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(
        EventRouter(
            processors=[tag("root")],
            backends={
                "enrollments": EventRouter(
                    processors=[NameWhitelistProcessor(whitelist=["enrollment.created"])],
                    backends={"export": SimpleLogRecordProcessor(enrollments)},
                ),
                "all": everything,
            },
        )
    )
    tracker = make_tracker(logger_provider=provider)
    tracker.emit("enrollment.created", {"n": 1})
    tracker.emit("video.played", {"n": 2})
    exported = enrollments.get_finished_logs()
    assert [log.log_record.event_name for log in exported] == ["enrollment.created"]
    assert exported[0].log_record.body["data"] == {"n": 1, "tags": ["root"]}
    assert [e["data"] for e in everything.events] == [{"n": 1, "tags": ["root"]}, {"n": 2, "tags": ["root"]}]


def test_a_router_on_a_provider_ignores_plain_logs_but_routes_foreign_events(memory_backend):
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(EventRouter(backends={"memory": memory_backend}))
    logger = provider.get_logger("someone.else")
    logger.emit(body="a plain log line")
    logger.emit(event_name="foreign.event", body={"k": 1}, attributes={"user_id": 4})
    assert len(memory_backend.events) == 1
    event = memory_backend.events[0]
    assert (event["name"], event["data"], event["context"]) == ("foreign.event", {"k": 1}, {"user_id": 4})


def test_processor_may_replace_the_event_and_none_means_unchanged(memory_backend):
    router = RoutingBackend(
        backends={"memory": memory_backend},
        processors=[lambda event: None, lambda event: {**event, "name": "renamed"}],
    )
    router.send({"name": "x", "data": {}, "context": {}})
    assert memory_backend.events == [{"name": "renamed", "data": {}, "context": {}}]


def test_send_copies_the_event_before_processing(memory_backend):
    router = RoutingBackend(backends={"memory": memory_backend}, processors=[tag("t")])
    event = {"name": "x", "data": {}, "context": {}}
    router.send(event)
    assert event == {"name": "x", "data": {}, "context": {}}


def test_exit_in_a_processor_stops_later_processors(memory_backend):
    calls = []

    def stop(event):
        calls.append("stop")
        raise EventEmissionExit

    router = RoutingBackend(backends={"memory": memory_backend}, processors=[stop, lambda e: calls.append("late")])
    router.send({"name": "x", "data": {}, "context": {}})
    assert calls == ["stop"]
    assert memory_backend.events == []


def test_info_level_backend_exceptions(memory_backend, caplog):
    class NoTransformer:
        def send(self, event):
            raise NoTransformerImplemented("none")

    class Disabled:
        def send(self, event):
            raise NoBackendEnabled("off")

    router = RoutingBackend(backends={"a": NoTransformer(), "b": Disabled(), "c": memory_backend})
    with caplog.at_level(logging.INFO):
        router.send({"name": "x", "data": {}, "context": {}})
    assert len(memory_backend.events) == 1
    levels = {record.levelname for record in caplog.records if record.name == "eventtracking.backends.routing"}
    assert levels == {"INFO"}
    assert "No transformer has been implemented" in caplog.text
    assert '"b" backend has not been enabled' in caplog.text


def test_registration_validates_backends_and_processors():
    with pytest.raises(ValueError, match='no callable "send", "on_emit" or "export"'):
        RoutingBackend(backends={"bad": object()})
    with pytest.raises(ValueError, match="is not callable"):
        RoutingBackend(processors=["not callable"])


def test_exporters_are_put_behind_a_batch_processor(make_tracker):
    exporter = InMemoryLogRecordExporter()
    tracker = make_tracker(backends={"mem": exporter})
    assert isinstance(tracker.backends["mem"], EventBatchProcessor)
    tracker.emit("x", {"k": 1})
    tracker.flush()
    (log,) = exporter.get_finished_logs()
    assert log.log_record.body["data"] == {"k": 1}


def test_subclass_overriding_send_is_called_with_the_event(make_tracker):
    received = []

    class Custom(RoutingBackend):
        def send(self, event):
            received.append(event["name"])

    tracker = make_tracker(backends={"custom": Custom()})
    tracker.emit("x", {})
    assert received == ["x"]
