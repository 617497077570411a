"""OTLP: events through the standard opentelemetry-exporter-otlp to local receivers (tests/peers/otlp.py)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from eventtracking.registry import METADATA_EVENT_NAME
from tests.event_types.schema_check import assert_valid_event, assert_valid_events

WHEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=datetime.UTC)
CONTEXT = {"user_id": 42, "course": {"id": "course-v1:edX+Demo", "tags": ["a", "b"]}, "ip": "203.0.113.9"}


def hex_id(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def test_events_reach_an_otlp_receiver_through_the_logger_provider(make_tracker, otlp_receiver, tracer):
    provider = LoggerProvider(resource=Resource.create({"service.name": "otlp-test"}), shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(otlp_receiver.exporter(), schedule_delay_millis=50))
    tracker = make_tracker(logger_provider=provider)
    sdk_tracer, _spans = tracer
    with tracker.context("request", CONTEXT):
        with sdk_tracer.start_as_current_span("request") as span:
            tracker.emit("edx.video.played", {"when": WHEN, "position": 12.5, "nested": {"list": [1, "two"]}})
        tracker.emit("edx.outside.span", {})
    assert tracker.flush()
    provider.shutdown()

    inside, outside = otlp_receiver.logs.wait_for(2)
    assert inside.event_name == "edx.video.played"
    assert inside.body == {
        "name": "edx.video.played",
        "timestamp": inside.body["timestamp"],
        "data": {"when": "2026-03-04T05:06:07.891000+00:00", "position": 12.5, "nested": {"list": [1, "two"]}},
        "context": CONTEXT,
    }
    emitted = datetime.datetime.fromisoformat(inside.body["timestamp"])
    assert emitted.utcoffset() == datetime.timedelta(0)
    assert inside.time_unix_nano == int(emitted.timestamp()) * 10**9 + emitted.microsecond * 1000
    assert inside.attributes == {
        "user_id": 42,
        "course.id": "course-v1:edX+Demo",
        "course.tags": ["a", "b"],
        "ip": "203.0.113.9",
    }
    assert inside.trace_id == hex_id(span.get_span_context().trace_id, 32)
    assert inside.span_id == hex_id(span.get_span_context().span_id, 16)
    assert inside.scope == "eventtracking"
    assert inside.resource["service.name"] == "otlp-test"

    assert outside.event_name == "edx.outside.span"
    assert (outside.trace_id, outside.span_id) == (None, None)
    assert outside.body["data"] == {}
    assert assert_valid_events([inside.body, outside.body]) == 2


def test_an_otlp_exporter_as_a_tracker_backend_is_batched_off_the_callers_thread(make_tracker, otlp_receiver):
    tracker = make_tracker(backends={"otlp": otlp_receiver.exporter()})
    assert type(tracker.get_backend("otlp")).__name__ == "EventBatchProcessor"
    with tracker.context("request", {"user_id": 1}):
        for index in range(5):
            tracker.emit("batched", {"index": index})
    assert tracker.flush()

    logs = otlp_receiver.logs.wait_for(5)
    assert [log.body["data"]["index"] for log in logs] == list(range(5))
    assert {(log.event_name, log.scope, log.attributes["user_id"]) for log in logs} == {("batched", "eventtracking", 1)}
    assert "telemetry.sdk.language" in logs[0].resource
    assert len(otlp_receiver.requests.items) < 5  # batched requests, not one per event
    assert assert_valid_events(log.body for log in logs) == 5


def test_registered_types_and_their_metadata_records_arrive_as_the_schema_says(make_tracker, otlp_receiver):
    tracker = make_tracker(backends={"otlp": otlp_receiver.exporter()})
    played = tracker.register("edx.video.played", "A learner started a video.", {"position": "Seconds."})
    bare = tracker.register("edx.bare")  # no description, no fields: empty values survive the OTLP encoding
    with tracker.context("request", {"user_id": 1}, description="The HTTP request."):
        tracker.emit("edx.video.played", {"position": 1.5})
        tracker.emit("edx.bare", {})
    assert tracker.flush()

    logs = otlp_receiver.logs.wait_for(5)
    assert [log.event_name for log in logs] == [METADATA_EVENT_NAME] * 3 + ["edx.video.played", "edx.bare"]
    request = tracker.registry.contexts["request"]
    assert [log.body["data"] for log in logs[:3]] == [played.as_data(), bare.as_data(), request.as_data()]
    assert logs[2].body["data"]["kind"] == "context"
    assert (logs[3].body["name_id"], logs[3].body["context_type_id"]) == (played.id, request.id)
    assert assert_valid_events(log.body for log in logs) == 5


AUTO_CONFIGURED_APP = textwrap.dedent(
    """
    import logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LINE %(name)s %(message)s")

    from opentelemetry.sdk._configuration import _OTelSDKConfigurator
    _OTelSDKConfigurator().configure()

    from eventtracking import tracker

    with tracker.get_tracker().context("request", {"user_id": 5, "org": "edX"}):
        tracker.emit("auto.configured", {"n": 1})
    print("BACKENDS", sorted(tracker.get_tracker().backends))
    # No flush: the global LoggerProvider drains its batch processors at exit.
    """
)


def test_otel_logs_exporter_auto_configuration_sends_the_default_trackers_events(otlp_receiver, segment_api, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(AUTO_CONFIGURED_APP)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "EVENTTRACKING_"))}
    env.update(otlp_receiver.env())
    env.update(
        EVENTTRACKING_SEGMENT_WRITE_KEY="auto-key",
        EVENTTRACKING_SEGMENT_HOST=segment_api.url,
        OTEL_LOGS_EXPORTER="otlp,eventtracking_logger,eventtracking_segment",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_SERVICE_NAME="auto-configured-app",
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=15, check=False
    )
    assert done.returncode == 0, done.stderr

    (log,) = otlp_receiver.logs.wait_for(1)
    assert log.event_name == "auto.configured"
    assert log.body["data"] == {"n": 1}
    assert_valid_event(log.body)
    assert log.attributes == {"user_id": 5, "org": "edX"}
    assert log.resource["service.name"] == "auto-configured-app"
    assert log.scope == "eventtracking"

    # The default tracker leaves delivery to the global provider: no backends of its own, and
    # eventtracking_logger, run by the SDK's own BatchLogRecordProcessor, wrote the event once.
    assert "BACKENDS []" in done.stdout
    lines = [json.loads(line.split(" ", 2)[2]) for line in done.stdout.splitlines() if line.startswith("LINE ")]
    assert [(line["name"], line["context"], line["data"]) for line in lines] == [
        ("auto.configured", {"user_id": 5, "org": "edX"}, {"n": 1})
    ]
    assert lines[0]["timestamp"] == log.body["timestamp"]

    # eventtracking_segment too: the provider's shutdown at exit made the client post.
    (batch,) = segment_api.batches.items
    assert batch.write_key == "auto-key"
    assert [(message["event"], message["userId"]) for message in batch.messages] == [("auto.configured", "5")]
