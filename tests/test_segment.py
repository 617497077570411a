"""Segment: the real segment-analytics-python client posting to a local Segment API server (tests/peers/segment.py)."""

from __future__ import annotations

import datetime
import decimal
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest
from eventtracking.exporters.segment import SegmentLogExporter, track_call
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from segment import analytics

from eventtracking import diagnostics
from eventtracking.backends.segment import SegmentBackend
from eventtracking.environment import load_exporter
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.registry import METADATA_EVENT_NAME
from eventtracking.tracker import get_tracker
from tests.event_types.schema_check import assert_valid_event

WRITE_KEY = "test-write-key"
# The client posts at most every upload_interval seconds; short, so tests do not wait.
FAST = {"upload_interval": 0.05}
WHEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=datetime.UTC)


def request_context(**extra: object) -> dict[str, object]:
    return {
        "user_id": 42,
        "client_id": "GA1.2.3",
        "ip": "203.0.113.9",
        "agent": "Mozilla/5.0 (test)",
        "host": "courses.example.com",
        "path": "/courses/demo",
        "referer": "https://example.com/",
        **extra,
    }


@pytest.fixture
def exporter(segment_api) -> Iterator[SegmentLogExporter]:
    made = SegmentLogExporter(WRITE_KEY, host=segment_api.url, **FAST)
    yield made
    made.shutdown()


@pytest.fixture
def module_client(segment_api, monkeypatch) -> Iterator[None]:
    """The module-level ``segment.analytics`` client, configured as an application would, reset afterwards."""
    monkeypatch.setattr(analytics, "write_key", WRITE_KEY)
    monkeypatch.setattr(analytics, "host", segment_api.url)
    monkeypatch.setattr(analytics, "default_client", None)
    yield
    if analytics.default_client is not None:
        analytics.shutdown()


def test_tracker_events_reach_segment_as_track_calls_with_the_original_mapping(make_tracker, segment_api, exporter):
    tracker = make_tracker(backends={"segment": exporter})
    data = {"when": WHEN, "price": decimal.Decimal("9.50"), "tags": {"b", "a"}, "nested": {"list": [1, 2]}}
    with tracker.context("request", request_context()):
        tracker.emit("edx.video.played", data)
    assert tracker.flush()

    (message,) = segment_api.messages.items  # flush() returns once the client has posted
    assert message["type"] == "track"
    assert message["event"] == "edx.video.played"
    assert message["userId"] == "42"
    assert message["context"]["Google Analytics"] == {"clientId": "GA1.2.3"}
    assert message["context"]["ip"] == "203.0.113.9"
    assert message["context"]["userAgent"] == "Mozilla/5.0 (test)"
    assert message["context"]["page"] == {
        "path": "/courses/demo",
        "referrer": "https://example.com/",
        "url": "https://courses.example.com/courses/demo",
    }
    properties = message["properties"]
    assert list(properties) == ["name", "timestamp", "data", "context"]
    assert properties["name"] == "edx.video.played"
    assert properties["context"] == request_context()
    assert properties["data"] == {
        "when": "2026-03-04T05:06:07.891000+00:00",
        "price": "9.50",
        "tags": ["a", "b"],
        "nested": {"list": [1, 2]},
    }
    emitted = datetime.datetime.fromisoformat(properties["timestamp"])
    assert emitted.tzinfo is not None
    # The message keeps the time the event happened, to the millisecond Segment carries.
    assert datetime.datetime.fromisoformat(message["timestamp"]) == emitted.replace(
        microsecond=emitted.microsecond // 1000 * 1000
    )
    (batch,) = segment_api.batches.items
    assert (batch.write_key, batch.gzipped, batch.retry_count) == (WRITE_KEY, True, 0)


@pytest.mark.parametrize(
    ("context", "page"),
    [
        (
            {"page": "https://a.example/x", "path": "/x", "host": "b.example"},
            {"path": "/x", "url": "https://a.example/x"},
        ),
        ({"path": "/x"}, {"path": "/x"}),
        ({"referer": "https://r.example/"}, {"referrer": "https://r.example/"}),
        ({"host": "b.example"}, None),
        ({}, None),
    ],
)
def test_page_info_follows_the_original_rules(context, page):
    call = track_call({"name": "n", "timestamp": WHEN, "context": {"user_id": "u", **context}, "data": {}})
    assert call is not None
    assert call["context"].get("page") == page
    assert call["timestamp"] == WHEN


def test_events_without_user_or_name_are_skipped_and_counted(make_tracker, segment_api, exporter):
    tracker = make_tracker(backends={"segment": exporter})
    tracker.emit("anonymous.event", {"x": 1})
    with tracker.context("request", {"user_id": "", "path": "/p"}):
        tracker.emit("empty.user.id", {})
    with tracker.context("request", {"user_id": None}):
        tracker.emit("null.user", {})
    with tracker.context("request", {"user_id": 0}):
        tracker.emit("user.zero", {})  # a real id, which the client alone would refuse as falsy
    backend = SegmentBackend(write_key=WRITE_KEY, host=segment_api.url, **FAST)
    backend.send({"context": {"user_id": 1}})
    backend.shutdown()
    assert tracker.flush()

    assert [(message["event"], message["userId"]) for message in segment_api.messages.stays(1)] == [("user.zero", "0")]
    assert diagnostics.counts()["segment_skipped"] == 4


def test_metadata_records_are_not_user_events_neither_sent_nor_counted(make_tracker, segment_api, exporter, caplog):
    caplog.set_level(logging.DEBUG, logger="eventtracking.exporters.segment")
    tracker = make_tracker(backends={"segment": exporter})
    played = tracker.register("edx.video.played", "A learner started a video.", {"position": "Seconds."})
    with tracker.context("request", request_context(), description="The HTTP request."):
        tracker.emit("edx.video.played", {"position": 1})
    assert tracker.flush()

    (message,) = segment_api.messages.stays(1)
    assert message["event"] == "edx.video.played"
    assert message["properties"]["name_id"] == played.id
    assert_valid_event(message["properties"])
    assert "segment_skipped" not in diagnostics.counts()
    assert "Not sent to Segment: the metadata record of 'edx.video.played'" in caplog.text
    assert "Not sent to Segment: the metadata record of 'request'" in caplog.text


def test_the_seed_backend_does_not_send_metadata_records_either(make_tracker, segment_api, module_client, monkeypatch):
    backend = SegmentBackend()
    tracker = make_tracker(backends={"segment": backend})
    tracker.register("seed.event", "An event of the seed backend.")
    with tracker.context("request", {"user_id": 3}):
        tracker.emit("seed.event", {})
    assert tracker.flush()
    assert [message["event"] for message in segment_api.messages.stays(1)] == ["seed.event"]
    assert "segment_skipped" not in diagnostics.counts()

    # Nor does it warn that Segment is not configured for them: they were never meant for Segment.
    monkeypatch.setattr(analytics, "write_key", None)
    backend.send({"name": METADATA_EVENT_NAME, "timestamp": WHEN, "context": {}, "data": played_metadata()})
    assert "segment_not_configured" not in diagnostics.counts()


def played_metadata() -> dict[str, object]:
    return {"id": "0123456789abcdef", "kind": "event", "name": "edx.video.played", "description": "", "fields": []}


def test_a_failing_api_gets_the_events_once_it_recovers(make_tracker, segment_api, exporter):
    segment_api.http.fail_next(2, status=500)
    tracker = make_tracker(backends={"segment": exporter})
    with tracker.context("request", {"user_id": 7}):
        for index in range(3):
            tracker.emit("retried", {"index": index})
    assert tracker.flush()

    messages = segment_api.messages.items
    assert sorted(message["properties"]["data"]["index"] for message in messages) == [0, 1, 2]
    assert len(segment_api.http.requests.items) == len(segment_api.batches.items) + 2
    assert segment_api.batches.items[0].retry_count == 2  # the client's own retries, not a second copy
    assert len({message["messageId"] for message in messages}) == 3
    assert "dropped.SegmentLogExporter" not in diagnostics.counts()


@pytest.mark.parametrize(("status", "failures"), [(500, 5), (400, 1)])
def test_what_the_client_gives_up_on_is_counted_as_dropped(make_tracker, segment_api, status, failures):
    # 5xx: retried max_retries times, then dropped; 4xx other than 408/410/429/460: dropped at once.
    segment_api.http.fail_next(failures, status=status)
    exporter = SegmentLogExporter(WRITE_KEY, host=segment_api.url, max_retries=1, **FAST)
    tracker = make_tracker(backends={"segment": exporter})
    with tracker.context("request", {"user_id": 7}):
        tracker.emit("lost", {})
    tracker.flush()
    assert diagnostics.counts()["dropped.SegmentLogExporter"] == 1
    assert segment_api.messages.items == []
    assert len(segment_api.http.requests.items) == min(failures, 2)


def test_a_full_client_queue_makes_the_export_wait_not_drop(make_tracker, segment_api):
    segment_api.http.fail_next(2, status=503)
    exporter = SegmentLogExporter(WRITE_KEY, host=segment_api.url, max_queue_size=1, upload_size=1, **FAST)
    tracker = make_tracker(backends={"segment": exporter})
    with tracker.context("request", {"user_id": 7}):
        for index in range(6):
            tracker.emit("queued", {"index": index})
    assert tracker.flush()
    assert [message["properties"]["data"]["index"] for message in segment_api.messages.items] == list(range(6))
    assert not any(name.startswith("dropped") for name in diagnostics.counts())


def test_the_exporter_works_behind_the_sdk_batch_processor_of_a_logger_provider(make_tracker, segment_api, exporter):
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
    tracker = make_tracker(logger_provider=provider)
    with tracker.context("request", {"user_id": "u-1", "ip": "198.51.100.1"}):
        tracker.emit("via.provider", {"ok": True})
    assert tracker.flush()  # the SDK's processor exports, but does not flush its exporter: the client posts soon after
    (message,) = segment_api.messages.wait_for(1)
    assert (message["event"], message["userId"], message["context"]["ip"]) == ("via.provider", "u-1", "198.51.100.1")
    assert message["properties"]["data"] == {"ok": True}
    provider.shutdown()


def test_seed_backend_uses_the_module_level_client_configured_elsewhere(make_tracker, segment_api, module_client):
    backend = SegmentBackend()
    tracker = make_tracker(backends={"segment": backend})
    with tracker.context("request", request_context(page="https://courses.example.com/p?x=1")):
        tracker.emit("seed.event", {"when": WHEN})
    assert tracker.flush()

    (message,) = segment_api.messages.wait_for(1)
    assert (message["event"], message["userId"]) == ("seed.event", "42")
    assert message["context"]["page"]["url"] == "https://courses.example.com/p?x=1"
    assert message["properties"]["data"] == {"when": "2026-03-04T05:06:07.891000+00:00"}
    assert segment_api.batches.items[0].write_key == WRITE_KEY
    assert analytics.default_client is not None  # the application's client, not one the backend made


def test_seed_backend_without_a_write_key_anywhere_warns_and_sends_nothing(segment_api, monkeypatch, caplog):
    monkeypatch.setattr(analytics, "write_key", None)
    backend = SegmentBackend()
    backend.send({"name": "n", "context": {"user_id": 1}, "data": {}})
    backend.send({"name": "n", "context": {"user_id": 1}, "data": {}})
    assert diagnostics.counts()["segment_not_configured"] == 2
    assert "no write_key" in caplog.text
    segment_api.http.requests.stays(0, seconds=0.2)


def test_seed_backend_with_its_own_write_key_and_host(segment_api):
    backend = SegmentBackend(write_key="own-key", host=segment_api.url, **FAST)
    event = {"name": "own", "timestamp": WHEN, "context": {"user_id": uuid.UUID(int=1)}, "data": {}}
    backend.send(event)
    assert backend.force_flush()
    backend.shutdown()
    (batch,) = segment_api.batches.items
    assert batch.write_key == "own-key"
    assert batch.messages[0]["userId"] == "00000000-0000-0000-0000-000000000001"
    assert batch.messages[0]["properties"] == {
        "name": "own",
        "timestamp": "2026-03-04T05:06:07.891000+00:00",
        "context": {"user_id": "00000000-0000-0000-0000-000000000001"},
        "data": {},
    }
    with pytest.raises(ImproperlyConfigured, match="need a write_key"):
        SegmentBackend(host=segment_api.url)


def test_entry_point_and_environment_variables(segment_api, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_SEGMENT_WRITE_KEY", "env-key")
    monkeypatch.setenv("EVENTTRACKING_SEGMENT_HOST", segment_api.url)
    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "eventtracking_segment")
    exporter = load_exporter("eventtracking_segment")
    assert isinstance(exporter, SegmentLogExporter)
    exporter.shutdown()

    tracker = get_tracker()  # the default tracker, built from EVENTTRACKING_EXPORTERS
    with tracker.context("request", {"user_id": 3}):
        tracker.emit("from.env", {})
    assert tracker.flush()
    (batch,) = segment_api.batches.items
    assert (batch.write_key, batch.messages[0]["event"]) == ("env-key", "from.env")


def test_a_missing_write_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_SEGMENT_WRITE_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_SEGMENT_WRITE_KEY"):
        SegmentLogExporter()
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_SEGMENT_WRITE_KEY"):
        load_exporter("eventtracking_segment")
    with pytest.raises(ImproperlyConfigured, match="bad client option"):
        SegmentLogExporter("k", max_total_backoff_duration=-1)


def test_what_the_client_holds_at_exit_is_posted_even_without_close(segment_api, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from eventtracking.backends.segment import SegmentBackend
            from eventtracking.tracker import Tracker

            tracker = Tracker(backends={"segment": SegmentBackend(write_key="exit-key", host=sys.argv[1])})
            with tracker.context("request", {"user_id": 9}):
                tracker.emit("before.exit", {})
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), segment_api.url], capture_output=True, text=True, timeout=15, check=False
    )
    assert done.returncode == 0, done.stderr
    (message,) = segment_api.messages.items
    assert (message["event"], message["userId"]) == ("before.exit", "9")
