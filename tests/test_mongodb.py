"""MongoDB: the exporter and the seed's MongoBackend against a real wire-protocol server (tests/peers/mongodb.py).

Tests that stop, crash or restart the server use an ``nx-27017`` of their own (``nx_server``);
the others use ``mongo_server``, which is a real ``mongod`` when ``EVENTTRACKING_TEST_MONGODB_URI``
is set. What is asserted is what the server stores, read back with a separate client.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import decimal
import enum
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from eventtracking.exporters.mongodb import MongoLogExporter
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id, format_trace_id
from pymongo import monitoring

from eventtracking import diagnostics, environment, registry
from eventtracking import tracker as tracker_module
from eventtracking.backends.mongodb import MongoBackend
from eventtracking.backends.routing import RoutingBackend
from eventtracking.batching import EventBatchProcessor
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.processors.regex_filter import RegexFilter
from eventtracking.records import record_for
from tests.event_types.schema_check import assert_valid_events
from tests.peers.mongodb import client_for

pytestmark = pytest.mark.timeout(60)

# Fail fast while the server is down, so outage tests take seconds.
FAST = {"serverSelectionTimeoutMS": 1000, "connectTimeoutMS": 1000}
WHEN = datetime.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=datetime.UTC)


class Commands(monitoring.CommandListener):
    """The commands a client sends (pymongo's public command monitoring), with the sending thread."""

    def __init__(self) -> None:
        self.sent: list[tuple[monitoring.CommandStartedEvent, str]] = []
        self.replies: list[monitoring.CommandSucceededEvent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event, threading.current_thread().name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.replies.append(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Failures show up as missing replies."""

    def named(self, name: str) -> list[monitoring.CommandStartedEvent]:
        return [event for event, _ in self.sent if event.command_name == name]


def event(name: str = "test.event", data: Any = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "timestamp": WHEN, "context": {}, "data": {} if data is None else data, **fields}


def wait_until(condition: Callable[[], Any], timeout: float = 10, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)
    return result


def to_ms(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` at the millisecond precision of a BSON date."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.fixture
def make_exporter(mongo_server, mongo_database) -> Iterator[Callable[..., MongoLogExporter]]:
    """Build exporters for this test's database on ``mongo_server`` (or another server), shut down afterwards."""
    made: list[MongoLogExporter] = []

    def make(server: Any = None, **options: Any) -> MongoLogExporter:
        server = server or mongo_server
        options.setdefault("database", mongo_database)
        options["extra"] = {**FAST, **options.get("extra", {})}
        exporter = MongoLogExporter(**server.options, **options)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


@pytest.fixture
def events(mongo_client, mongo_database):
    """The ``events`` collection of this test's database, read with a separate client."""
    return mongo_client[mongo_database]["events"]


@pytest.fixture
def metadata(mongo_client, mongo_database):
    """The default metadata collection of this test's database, read with a separate client."""
    return mongo_client[mongo_database][registry.DEFAULT_METADATA_COLLECTION]


def sequence_numbers(collection, query: dict[str, Any] | None = None) -> list[int]:
    """The ``data.seq`` of every stored event (matching ``query``), sorted: duplicates show up."""
    return sorted(document["data"]["seq"] for document in collection.find(query or {}))


# The document


def test_one_document_per_event_in_the_seed_shape(make_tracker, make_exporter, memory_backend, events):
    tracker = make_tracker(backends={"mongo": make_exporter(), "memory": memory_backend})
    tracker.enter_context("request", {"user_id": 42, "path": "/courses", "agent": {"name": "pytest", "v": [1, 2]}})
    tracker.emit("edx.course.enrollment.activated", {"course_id": "course-v1:X", "grades": [{"unit": 1, "score": 0.5}]})
    tracker.emit("edx.course.enrollment.deactivated", {"course_id": "course-v1:X"})
    assert tracker.flush()

    stored = list(events.find().sort("name", 1))
    assert [document["name"] for document in stored] == [sent["name"] for sent in memory_backend.events]
    for document, sent in zip(stored, memory_backend.events, strict=True):
        assert set(document) == {"_id", "name", "timestamp", "context", "data"}
        assert isinstance(document["_id"], ObjectId)
        assert isinstance(document["timestamp"], datetime.datetime)
        assert document["timestamp"] == to_ms(sent["timestamp"])
        assert document["context"] == {"user_id": 42, "path": "/courses", "agent": {"name": "pytest", "v": [1, 2]}}
        assert document["data"] == sent["data"]
    assert stored[0]["data"]["grades"] == [{"unit": 1, "score": 0.5}]
    assert events.count_documents({"context.agent.name": "pytest"}) == 2
    assert assert_valid_events(stored) == 2


def test_events_in_a_span_carry_its_trace_and_span_ids(make_tracker, make_exporter, events):
    tracker = make_tracker(backends={"mongo": make_exporter()})
    tracer = TracerProvider().get_tracer(__name__)
    with tracer.start_as_current_span("request") as span:
        tracker.emit("test.in_span")
    tracker.emit("test.outside")
    assert tracker.flush()

    inside = events.find_one({"name": "test.in_span"})
    assert inside["trace_id"] == format_trace_id(span.get_span_context().trace_id)
    assert inside["span_id"] == format_span_id(span.get_span_context().span_id)
    assert len(inside["trace_id"]) == 32 and len(inside["span_id"]) == 16
    outside = events.find_one({"name": "test.outside"})
    assert "trace_id" not in outside and "span_id" not in outside
    assert assert_valid_events([inside, outside]) == 2


def test_keys_mongodb_rejects_are_escaped_by_one_rule(make_tracker, make_exporter, events):
    tracker = make_tracker(backends={"mongo": make_exporter()})
    tracker.enter_context("course", {"org.id": "edX"})
    data = {"$set": {"a.b": 1}, "price$": 2, 7: "seven", "nul\x00key": True, "list": [{"$in": [1]}]}
    tracker.emit("test.keys", data)
    assert tracker.flush()

    stored = events.find_one({"name": "test.keys"})
    assert stored["data"] == {
        "\uff04set": {"a\uff0eb": 1},
        "price$": 2,
        "7": "seven",
        "nul\ufffdkey": True,
        "list": [{"\uff04in": [1]}],
    }
    assert stored["context"] == {"org\uff0eid": "edX"}
    assert events.count_documents({"data.\uff04set.a\uff0eb": 1}) == 1


class Color(enum.Enum):
    RED = "red"


def test_values_bson_cannot_hold_follow_the_portable_rule(make_tracker, make_exporter, events):
    tracker = make_tracker(backends={"mongo": make_exporter()})
    an_id, an_object_id = uuid.uuid4(), ObjectId()
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    tracker.emit(
        "test.values",
        {
            "naive": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000),
            "aware": datetime.datetime(2024, 1, 2, 5, 4, 5, tzinfo=plus_two),
            "day": datetime.date(2024, 1, 2),
            "amount": decimal.Decimal("1.50"),
            "id": an_id,
            "tags": {"b", "a"},
            "big": 2**70,
            "pair": (1, 2),
            "blob": b"\xff\x00",
            "color": Color.RED,
            "object_id": an_object_id,
            "plain": [None, True, 3, 0.25, "text"],
        },
    )
    assert tracker.flush()

    assert events.find_one({"name": "test.values"})["data"] == {
        "naive": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC),
        "aware": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "day": "2024-01-02",
        "amount": "1.50",
        "id": str(an_id),
        "tags": ["a", "b"],
        "big": str(2**70),
        "pair": [1, 2],
        "blob": base64.b64encode(b"\xff\x00").decode(),
        "color": "red",
        "object_id": an_object_id,
        "plain": [None, True, 3, 0.25, "text"],
    }
    assert assert_valid_events(events.find()) == 1


def test_an_event_that_cannot_be_stored_as_is_is_stored_without_its_data(make_exporter, events, caplog):
    exporter = make_exporter()
    too_large = event("test.too_large", {"blob": "x" * (17 * 1024 * 1024)}, context={"user_id": 7})
    bad_text = event("test.bad_text", {"text": "lone surrogate \ud800"})
    fine = event("test.fine", {"seq": 3})
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        assert exporter.export([record_for(too_large), record_for(bad_text), record_for(fine)]) == (
            LogRecordExportResult.SUCCESS
        )

    large = events.find_one({"name": "test.too_large"})
    assert large["data"]["eventtracking_truncated"] is True
    assert "document limit" in large["data"]["reason"]
    assert large["context"] == {"user_id": 7}
    assert large["timestamp"] == WHEN
    text = events.find_one({"name": "test.bad_text"})
    assert text["data"]["eventtracking_truncated"] is True
    assert "UnicodeEncodeError" in text["data"]["reason"]
    assert events.find_one({"name": "test.fine"})["data"] == {"seq": 3}
    assert assert_valid_events(events.find()) == 3
    assert "cannot be stored as is" in caplog.text
    assert diagnostics.counts()["mongodb_truncated"] == 2


def test_plain_logs_are_skipped_and_other_loggers_events_are_stored(make_exporter, events):
    exporter = make_exporter()
    plain = ReadWriteLogRecord(LogRecord(body="just a log line"))
    foreign = ReadWriteLogRecord(
        LogRecord(
            event_name="app.signup", body={"plan": "pro"}, attributes={"user_id": 5}, timestamp=1_700_000_000 * 10**9
        )
    )
    assert exporter.export([plain, foreign]) == LogRecordExportResult.SUCCESS

    [stored] = events.find()
    assert stored["name"] == "app.signup"
    assert stored["data"] == {"plan": "pro"}
    assert stored["context"] == {"user_id": 5}
    assert stored["timestamp"] == datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC)


# Metadata of registered event types

VIDEO_FIELDS = {"video_id": "The video's id.", "position": "Seconds from the start."}
REQUEST_FIELDS = {"user_id": "The learner.", "path": "The page."}


def metadata_record(name: str = "edx.video.played", when: datetime.datetime = WHEN, **fields: str) -> Any:
    """The log record of a metadata record, as a tracker emits it when ``name`` is registered."""
    described = registry.describe(registry.EVENT, name, f"What {name} means.", fields or VIDEO_FIELDS)
    return record_for(registry.metadata_event(described, when))


def by_id(collection) -> dict[str, dict[str, Any]]:
    return {document["_id"]: document for document in collection.find()}


def test_metadata_has_its_own_collection_keyed_by_id_and_events_join_to_it(
    make_tracker, make_exporter, events, metadata
):
    tracker = make_tracker(backends={"mongo": make_exporter()})
    played = tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
    with tracker.context("request", {"user_id": 7, "path": "/v"}, "The HTTP request.", REQUEST_FIELDS):
        tracker.emit("edx.video.played", {"video_id": "v1", "position": 0})
        tracker.emit("edx.video.played", {"video_id": "v2", "position": 3})
        tracker.emit("edx.unregistered", {})
    request = tracker.registry.contexts["request"]
    assert tracker.flush()

    stored = by_id(metadata)
    assert set(stored) == {played.id, request.id}
    assert stored[played.id] == {
        "_id": played.id,
        "kind": "event",
        "name": "edx.video.played",
        "description": "A learner started a video.",
        "fields": [
            {"name": "video_id", "description": "The video's id."},
            {"name": "position", "description": "Seconds from the start."},
        ],
        "registered_at": to_ms(tracker.registry.registered_at(played.id)),
    }
    assert stored[request.id]["kind"] == "context"
    assert stored[request.id]["name"] == "request"
    assert stored[request.id]["fields"] == [
        {"name": "user_id", "description": "The learner."},
        {"name": "path", "description": "The page."},
    ]
    # The events collection holds events only; each registered one joins to its documentation.
    documents = list(events.find())
    assert sorted(document["name"] for document in documents) == [
        "edx.unregistered",
        "edx.video.played",
        "edx.video.played",
    ]
    for document in documents:
        assert document["context_type_id"] == request.id
        assert stored[document["context_type_id"]]["name"] == "request"
        if document["name"] == "edx.video.played":
            assert stored[document["name_id"]]["description"] == "A learner started a video."
        else:
            assert "name_id" not in document
    assert assert_valid_events(documents) == 3


def test_a_new_version_adds_a_document_and_the_old_one_stays(make_tracker, make_exporter, events, metadata):
    tracker = make_tracker(backends={"mongo": make_exporter()})
    first = tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
    tracker.emit("edx.video.played", {"video_id": "v1", "position": 0})
    second = tracker.register("edx.video.played", "A learner started a video.", {**VIDEO_FIELDS, "speed": "Rate."})
    tracker.emit("edx.video.played", {"video_id": "v1", "position": 0, "speed": 1.5})
    tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)  # back to the first: known
    assert tracker.flush()

    stored = by_id(metadata)
    assert set(stored) == {first.id, second.id}
    assert [field["name"] for field in stored[second.id]["fields"]] == ["video_id", "position", "speed"]
    assert stored[first.id]["registered_at"] <= stored[second.id]["registered_at"]  # BSON dates: milliseconds
    versions = [stored[document["name_id"]] for document in events.find().sort("data.speed", 1)]
    assert [len(version["fields"]) for version in versions] == [2, 3]
    assert assert_valid_events(events.find()) == 2


def test_metadata_is_stored_once_and_keeps_its_first_registration_time(make_exporter, metadata):
    commands = Commands()
    exporter = make_exporter(extra={"event_listeners": [commands]})
    later = WHEN + datetime.timedelta(days=30)
    batch = [metadata_record(), metadata_record("edx.other"), metadata_record(), record_for(event())]
    assert exporter.export(batch) == LogRecordExportResult.SUCCESS
    # Another process (or a retried batch) registering the same types later changes nothing.
    assert exporter.export([metadata_record(when=later), metadata_record("edx.other", when=later)]) == (
        LogRecordExportResult.SUCCESS
    )

    stored = list(metadata.find())
    assert sorted(document["name"] for document in stored) == ["edx.other", "edx.video.played"]
    assert {document["registered_at"] for document in stored} == {WHEN}
    first_update = commands.named("update")[0].command
    assert first_update["ordered"] is False
    assert len(first_update["updates"]) == 3  # one unordered bulk write per batch, upserts only
    assert all(update["upsert"] for update in first_update["updates"])
    assert {update["q"]["_id"] for update in first_update["updates"]} == set(by_id(metadata))


def test_filters_on_events_never_keep_metadata_out(make_tracker, make_exporter, events, metadata):
    only_enrollments = RegexFilter("allowlist", [r"^edx\.course\.enrollment\."])
    no_metadata = RegexFilter("blocklist", [r"^eventtracking\.metadata$"])
    tracker = make_tracker(
        processors=[only_enrollments],
        backends={"routed": RoutingBackend(processors=[no_metadata], backends={"mongo": make_exporter()})},
    )
    enrolled = tracker.register("edx.course.enrollment.activated", "A learner enrolled.", {"mode": "The track."})
    played = tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
    tracker.emit("edx.course.enrollment.activated", {"mode": "audit"})
    tracker.emit("edx.video.played", {"video_id": "v1", "position": 0})
    assert tracker.flush()

    assert set(by_id(metadata)) == {enrolled.id, played.id}
    assert [document["name"] for document in events.find()] == ["edx.course.enrollment.activated"]


def test_metadata_written_while_the_server_is_down_is_retried(nx_server, make_exporter, mongo_database):
    exporter = make_exporter(nx_server)
    nx_server.stop()
    batch = [metadata_record(), record_for(event(data={"seq": 1}))]
    assert exporter.export(batch) == LogRecordExportResult.FAILURE
    assert diagnostics.counts()["mongodb_unavailable"] == 1

    nx_server.start()
    wait_until(lambda: exporter.export(batch) == LogRecordExportResult.SUCCESS, message="the retry")
    with client_for(nx_server.uri) as client:
        database = client[mongo_database]
        assert [document["name"] for document in database[registry.DEFAULT_METADATA_COLLECTION].find()] == [
            "edx.video.played"
        ]
        assert sequence_numbers(database["events"]) == [1]


def stores_the_metadata_in(collection: str, tracker, database) -> None:
    played = tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
    tracker.emit("edx.video.played", {"video_id": "v1", "position": 0})
    assert tracker.flush()
    assert [document["_id"] for document in database[collection].find()] == [played.id]
    assert database["events"].find_one()["name_id"] == played.id
    assert registry.DEFAULT_METADATA_COLLECTION not in database.list_collection_names()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_metadata_collection_is_configurable(how, make_tracker, make_exporter, mongo_client, monkeypatch):
    if how == "environment":
        monkeypatch.setenv("EVENTTRACKING_MONGODB_METADATA_COLLECTION", "docs_from_env")
        exporter, expected = make_exporter(), "docs_from_env"
    else:
        monkeypatch.setenv("EVENTTRACKING_MONGODB_METADATA_COLLECTION", "not_this_one")
        exporter, expected = make_exporter(metadata_collection="docs"), "docs"
    database = exporter.database.name
    assert exporter.metadata_collection.full_name == f"{database}.{expected}"  # the events' database
    stores_the_metadata_in(expected, make_tracker(backends={"mongo": exporter}), mongo_client[database])


def test_the_seed_backend_takes_the_metadata_collection_too(make_tracker, mongo_server, mongo_client, mongo_database):
    backend = MongoBackend(**mongo_server.options, database=mongo_database, metadata_collection="docs")
    assert backend.metadata_collection.full_name == f"{mongo_database}.docs"
    stores_the_metadata_in("docs", make_tracker(backends={"mongo": backend}), mongo_client[mongo_database])


# Bulk writes, write concern, indexes


def test_a_batch_is_one_unordered_acknowledged_bulk_insert(make_tracker, make_exporter, events):
    commands = Commands()
    exporter = make_exporter(extra={"event_listeners": [commands]})
    processor = EventBatchProcessor(exporter, max_export_batch_size=100, schedule_delay_millis=60000)
    tracker = make_tracker(backends={"mongo": processor})
    for seq in range(100):
        tracker.emit("test.bulk", {"seq": seq})
    assert tracker.flush()

    [insert] = commands.named("insert")
    assert insert.command["ordered"] is False
    assert insert.command["writeConcern"] == {"w": 1}
    assert len(insert.command["documents"]) == 100
    assert sequence_numbers(events) == list(range(100))


def test_one_rejected_document_does_not_stop_the_rest_of_the_batch(make_exporter, events, caplog):
    events.insert_one({"_id": "taken", "name": "already.there"})
    commands = Commands()
    exporter = make_exporter(extra={"event_listeners": [commands]})
    batch = [record_for(event(data={"seq": 1})), record_for(event(data={"seq": 2}, _id="taken"))]
    batch.append(record_for(event(data={"seq": 3})))
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        assert exporter.export(batch) == LogRecordExportResult.SUCCESS

    assert len(commands.named("insert")) == 1
    assert sorted(document["data"]["seq"] for document in events.find({"name": "test.event"})) == [1, 3]
    assert events.find_one({"_id": "taken"})["name"] == "already.there"
    assert diagnostics.counts()["dropped.MongoLogExporter"] == 1
    assert "MongoDB rejected event" in caplog.text


def test_writes_are_acknowledged_by_default(make_exporter, events):
    exporter = make_exporter()
    assert exporter.collection.write_concern.document == {"w": 1}
    assert exporter.export([record_for(event(data={"seq": seq})) for seq in range(5)]) == LogRecordExportResult.SUCCESS
    # Acknowledged: stored by the time export returns, with nothing to flush.
    assert events.count_documents({}) == 5


@pytest.mark.parametrize(
    ("options", "uri_query", "document"),
    [
        ({"w": "majority"}, "", {"w": "majority"}),
        ({"w": 2}, "", {"w": 2}),
        ({"extra": {"w": 1, "journal": True}}, "", {"w": 1, "j": True}),
        ({}, "?w=majority&wtimeoutMS=500", {"w": "majority", "wtimeout": 500}),
    ],
)
def test_the_write_concern_is_an_option(options, uri_query, document):
    exporter = MongoLogExporter(uri=f"mongodb://127.0.0.1:27017/{uri_query}", **options)
    try:
        assert exporter.collection.write_concern.document == document
        assert exporter.collection.write_concern.acknowledged
    finally:
        exporter.shutdown()


def test_unacknowledged_writes_are_allowed_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        exporter = MongoLogExporter(host="127.0.0.1", extra={"w": 0})
    exporter.shutdown()
    assert not exporter.collection.write_concern.acknowledged
    assert "unacknowledged writes" in caplog.text


def indexed_keys(collection) -> list[list[tuple[str, int]]]:
    return [list(index["key"]) for index in collection.index_information().values()]


def test_indexes_on_name_and_timestamp_are_created_in_the_background(make_exporter, events):
    make_exporter()
    wait_until(lambda: [("timestamp", 1)] in indexed_keys(events), message="the indexes")
    assert [("name", 1)] in indexed_keys(events)


def test_start_up_never_waits_for_the_server_and_indexes_follow_once_it_is_up(nx_server, make_exporter, mongo_database):
    nx_server.stop()
    started = time.monotonic()
    exporter = make_exporter(nx_server, extra={"serverSelectionTimeoutMS": 2000})
    assert time.monotonic() - started < 1.5  # the index thread waits up to 2 s for the server; start-up does not
    wait_until(lambda: diagnostics.counts().get("mongodb_index_error"), message="the index attempt to fail")

    nx_server.start()
    records = [record_for(event(data={"seq": 1}))]
    wait_until(lambda: exporter.export(records) == LogRecordExportResult.SUCCESS, message="a successful export")
    with client_for(nx_server.uri) as client:
        collection = client[mongo_database]["events"]
        wait_until(lambda: [("name", 1)] in indexed_keys(collection), message="the indexes")
        assert [("timestamp", 1)] in indexed_keys(collection)
        assert collection.count_documents({}) == 1


# Configuration


def test_the_default_tracker_writes_where_the_environment_says(mongo_server, mongo_database, mongo_client, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_MONGODB_URI", mongo_server.uri)
    monkeypatch.setenv("EVENTTRACKING_MONGODB_DATABASE", mongo_database)
    monkeypatch.setenv("EVENTTRACKING_MONGODB_COLLECTION", "tracking_log")
    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "eventtracking_mongodb")
    tracker_module.emit("test.from_env", {"seq": 1})
    tracker = tracker_module.get_tracker()
    assert tracker.flush()

    assert isinstance(tracker.get_backend("eventtracking_mongodb").exporter, MongoLogExporter)
    assert mongo_client[mongo_database]["tracking_log"].count_documents({"name": "test.from_env"}) == 1


def test_otel_logs_exporter_names_it_under_opentelemetry_instrument(mongo_server, mongo_database, mongo_client):
    environment_variables = {
        **os.environ,
        "OTEL_LOGS_EXPORTER": "eventtracking_mongodb",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "EVENTTRACKING_MONGODB_URI": mongo_server.uri,
        "EVENTTRACKING_MONGODB_DATABASE": mongo_database,
    }
    script = (
        "from eventtracking import tracker; "
        "tracker.emit('test.instrumented', {'seq': 1}); tracker.get_tracker().flush()"
    )
    instrument = str(Path(sys.executable).with_name("opentelemetry-instrument"))
    subprocess.run([instrument, sys.executable, "-c", script], env=environment_variables, check=True, timeout=60)
    assert mongo_client[mongo_database]["events"].find_one({"name": "test.instrumented"})["data"] == {"seq": 1}


def test_the_entry_point_takes_the_database_from_the_uri(mongo_server, mongo_database, mongo_client, monkeypatch):
    uri = urllib.parse.urlsplit(mongo_server.uri)._replace(path=f"/{mongo_database}").geturl()
    monkeypatch.setenv("EVENTTRACKING_MONGODB_URI", uri)
    exporter = environment.load_exporter("eventtracking_mongodb")
    try:
        assert exporter.collection.full_name == f"{mongo_database}.events"
        assert exporter.export([record_for(event())]) == LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert mongo_client[mongo_database]["events"].count_documents({}) == 1


def test_the_defaults_are_the_seeds(monkeypatch):
    for name in (
        "EVENTTRACKING_MONGODB_URI",
        "EVENTTRACKING_MONGODB_DATABASE",
        "EVENTTRACKING_MONGODB_COLLECTION",
        "EVENTTRACKING_MONGODB_METADATA_COLLECTION",
    ):
        monkeypatch.delenv(name, raising=False)
    exporter = MongoLogExporter()
    try:
        assert exporter.collection.full_name == "eventtracking.events"
        assert exporter.metadata_collection.full_name == "eventtracking.event_metadata"
        assert list(exporter.client.topology_description.server_descriptions()) == [("localhost", 27017)]
        assert exporter.client.options.server_selection_timeout == 2.0
        assert exporter.collection.write_concern.document == {"w": 1}
    finally:
        exporter.shutdown()


@pytest.mark.parametrize(
    "build",
    [
        lambda: MongoBackend(hots="localhost"),
        lambda: MongoBackend(max_queue_size=0),
        lambda: MongoLogExporter(port="27017"),
        lambda: MongoLogExporter(port=True),
        lambda: MongoLogExporter(host=5),
        lambda: MongoLogExporter(extra=[("w", 1)]),
        lambda: MongoLogExporter(extra={"bogus": 1}),
        lambda: MongoLogExporter(extra={"serverSelectionTimeoutMS": "soon"}),
        lambda: MongoLogExporter(uri="http://example.com"),
        lambda: MongoLogExporter(uri="mongodb://127.0.0.1", host="127.0.0.1"),
        lambda: MongoLogExporter(database="bad$name"),
        lambda: MongoLogExporter(database=""),
        lambda: MongoLogExporter(collection=""),
        lambda: MongoLogExporter(metadata_collection=""),
        lambda: MongoLogExporter(metadata_collection=5),
        lambda: MongoLogExporter(w=-1),
        lambda: MongoLogExporter(w=True),
        lambda: MongoLogExporter(w=1, extra={"w": 0}),
        lambda: MongoLogExporter(user=1),
    ],
)
def test_bad_options_fail_at_construction(build):
    with pytest.raises(ImproperlyConfigured):
        build()


def test_a_bad_environment_fails_when_the_exporter_is_loaded(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_MONGODB_URI", "http://localhost:27017")
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_MONGODB_URI"):
        environment.load_exporter("eventtracking_mongodb")


@pytest.mark.parametrize(("extra", "source"), [({}, "database"), ({"authSource": "admin"}, "admin")])
def test_credentials_authenticate_against_the_events_database(make_exporter, mongo_database, extra, source):
    commands = Commands()
    exporter = make_exporter(user="alice", password="s3cret", extra={"event_listeners": [commands], **extra})
    # The test server does not know alice: what matters is that the client authenticates, and where.
    with contextlib.suppress(Exception):
        exporter.export([record_for(event())])
    expected = mongo_database if source == "database" else source
    assert {started.database_name for started in commands.named("saslStart")} == {expected}


# The seed's MongoBackend


def test_mongo_backend_writes_in_batches_off_the_callers_thread(make_tracker, mongo_server, mongo_database, events):
    commands = Commands()
    backend = MongoBackend(**mongo_server.options, database=mongo_database, extra={"event_listeners": [commands]})
    assert isinstance(backend, EventBatchProcessor)
    tracker = make_tracker(backends={"mongo": backend})
    for seq in range(3):
        tracker.emit("test.seed", {"seq": seq})
    assert tracker.flush()

    assert sequence_numbers(events) == [0, 1, 2]
    inserts = [(started, thread) for started, thread in commands.sent if started.command_name == "insert"]
    assert len(inserts) == 1
    assert inserts[0][1] != threading.current_thread().name
    assert backend.collection.write_concern.document == {"w": 1}
    assert backend.collection.full_name == f"{mongo_database}.events"
    assert backend.database.name == mongo_database
    assert backend.connection is backend.exporter.client


def test_mongo_backend_send_stores_the_event_as_it_was_sent(mongo_server, mongo_database, events):
    backend = MongoBackend(**mongo_server.options, database=mongo_database, collection="events")
    try:
        sent = event("seed.send", {"items": [1]}, context={"user_id": 3})
        backend.send(sent)
        sent["data"]["items"].append(2)
        assert backend.force_flush()
    finally:
        backend.shutdown()
    stored = events.find_one({"name": "seed.send"})
    assert stored["data"] == {"items": [1]}
    assert stored["context"] == {"user_id": 3}
    assert stored["timestamp"] == WHEN


def test_mongo_backend_still_allows_unacknowledged_writes(mongo_server, mongo_database):
    backend = MongoBackend(**mongo_server.options, database=mongo_database, extra={"w": 0})
    backend.shutdown()
    assert not backend.collection.write_concern.acknowledged


# Faults


def test_a_batch_retried_after_a_crash_is_stored_exactly_once(nx_server, make_exporter, mongo_database):
    commands = Commands()
    exporter = make_exporter(nx_server, extra={"event_listeners": [commands]})
    started = time.monotonic()
    assert exporter.export([record_for(event("test.warmup")) for _ in range(2000)]) == LogRecordExportResult.SUCCESS
    per_2000 = time.monotonic() - started

    batch = [record_for(event(data={"seq": seq})) for seq in range(10000)]
    results: list[LogRecordExportResult] = []
    export = threading.Thread(target=lambda: results.append(exporter.export(batch)))
    export.start()
    time.sleep(per_2000 * 1.5)  # part of the batch is stored when the server crashes
    nx_server.kill()
    export.join(30)
    assert results == [LogRecordExportResult.FAILURE]

    nx_server.start()
    with client_for(nx_server.uri) as client:
        collection = client[mongo_database]["events"]
        partial = collection.count_documents({"name": "test.event"})
        assert 0 < partial < len(batch), "the crash should interrupt the insert"
        commands.replies.clear()
        wait_until(lambda: exporter.export(batch) == LogRecordExportResult.SUCCESS, message="the retry")
        assert sequence_numbers(collection, {"name": "test.event"}) == list(range(len(batch)))
    duplicates = [
        error
        for reply in commands.replies
        if reply.command_name == "insert"
        for error in reply.reply.get("writeErrors", ())
        if error["code"] == 11000
    ]
    assert len(duplicates) == partial
    assert "dropped.MongoLogExporter" not in diagnostics.counts()


def test_no_event_is_lost_when_the_server_stops_and_comes_back(nx_server, make_tracker, make_exporter, mongo_database):
    exporter = make_exporter(nx_server)
    processor = EventBatchProcessor(
        exporter, max_export_batch_size=50, schedule_delay_millis=20, retry_max_backoff_seconds=0.2
    )
    tracker = make_tracker(backends={"mongo": processor})
    while_down: list[float] = []
    for seq in range(600):
        if seq == 200:
            nx_server.stop()
        if seq == 400:
            wait_until(
                lambda: diagnostics.counts().get("mongodb_unavailable"), message="the exporter to see the outage"
            )
            nx_server.start()
        started = time.perf_counter()
        tracker.emit("test.outage", {"seq": seq})
        if 200 <= seq < 400:
            while_down.append(time.perf_counter() - started)
        if seq % 50 == 49:
            time.sleep(0.05)  # let batches go out, so the outage hits a stream in flight
    assert tracker.flush(20000)

    # A write waiting for the server would take the 1 s server selection timeout.
    assert max(while_down) < 0.5
    assert sum(while_down) < 1
    with client_for(nx_server.uri) as client:
        assert sequence_numbers(client[mongo_database]["events"]) == list(range(600))
    assert not [name for name in diagnostics.counts() if name.startswith("dropped.")]


def test_what_overflows_the_buffer_is_counted_and_logged(
    nx_server, make_tracker, make_exporter, mongo_database, caplog
):
    exporter = make_exporter(nx_server)
    nx_server.stop()
    processor = EventBatchProcessor(
        exporter, max_queue_size=20, max_export_batch_size=10, schedule_delay_millis=10, retry_max_backoff_seconds=0.2
    )
    tracker = make_tracker(backends={"mongo": processor})
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        for seq in range(100):
            tracker.emit("test.overflow", {"seq": seq})
        dropped = diagnostics.counts().get("dropped.MongoLogExporter", 0)
        assert dropped >= 100 - 20 - 10  # the buffer holds 20, the batch being retried 10
        nx_server.start()
        assert tracker.flush(20000)
    assert "buffer is full" in caplog.text
    with client_for(nx_server.uri) as client:
        stored = client[mongo_database]["events"].count_documents({"name": "test.overflow"})
    assert stored + dropped == 100
    assert diagnostics.counts()["dropped.MongoLogExporter"] == dropped
