"""register(), metadata ids, name_id / context_type_id, and metadata records through the pipeline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eventtracking import tracker as tracker_module
from eventtracking.backends.routing import RoutingBackend
from eventtracking.locator import DefaultContextLocator, ThreadLocalContextLocator
from eventtracking.processors.regex_filter import RegexFilter
from eventtracking.processors.whitelist import NameWhitelistProcessor
from eventtracking.registry import METADATA_EVENT_NAME, describe, is_metadata, metadata_document, metadata_upsert
from eventtracking.routing import EventRouter
from tests.conftest import MemoryBackend
from tests.event_types.schema_check import logged_events

FIELDS = {"position": "Seconds from the start of the video.", "video_id": "The video's id."}


def events_of(backend, name=None):
    return [event for event in backend.events if not is_metadata(event) and (name is None or event["name"] == name)]


def metadata_of(backend):
    return [event["data"] for event in backend.events if is_metadata(event)]


def test_events_carry_the_id_in_force_and_a_new_version_keeps_the_old_one(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    first = tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.emit("video.played", {"position": 1, "video_id": "v1"})
    second = tracker.register("video.played", "A learner started a video.", {**FIELDS, "speed": "Playback speed."})
    tracker.emit("video.played", {"position": 2, "video_id": "v1", "speed": 1.5})

    assert first.id != second.id
    assert [event["name_id"] for event in events_of(memory_backend)] == [first.id, second.id]
    assert tracker.registry.get(first.id) == first
    assert tracker.registry.versions("video.played") == [first, second]

    # Registering the first content again puts it back in force without a new metadata record.
    again = tracker.register("video.played", "A learner started a video.", dict(reversed(FIELDS.items())))
    tracker.emit("video.played", {"position": 3, "video_id": "v1"})
    assert again.id == first.id
    assert events_of(memory_backend)[-1]["name_id"] == first.id
    assert [item["id"] for item in metadata_of(memory_backend)] == [first.id, second.id]


def test_the_id_is_derived_from_the_content_alone_so_every_process_agrees():
    here = describe("event", "video.played", "A learner started a video.", FIELDS).id
    code = (
        "from eventtracking.registry import describe;"
        "print(describe('event', 'video.played', 'A learner started a video.',"
        f" {dict(reversed(FIELDS.items()))!r}).id)"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert there == here
    assert len(here) == 16
    assert describe("event", "video.played", "A learner started a video!", FIELDS).id != here
    assert describe("context", "video.played", "A learner started a video.", FIELDS).id != here


def test_unregistered_events_are_recorded_exactly_as_before(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.emit("page.viewed", {"path": "/"})
    tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.emit("page.viewed", {"path": "/"})

    before, after = events_of(memory_backend, "page.viewed")
    assert list(before) == ["name", "timestamp", "data", "context"]
    assert list(after) == ["name", "timestamp", "data", "context"]


def test_each_new_metadata_record_reaches_every_exporter_once_whatever_the_processors(make_tracker, otel_logs):
    provider, otel_exporter = otel_logs
    direct, blocked, provider_branch = MemoryBackend(), MemoryBackend(), MemoryBackend()
    # A router on the provider that only lets video events through.
    provider.add_log_record_processor(
        EventRouter(processors=[RegexFilter("allowlist", [r"^video\."])], backends={"memory": provider_branch})
    )
    tracker = make_tracker(
        logger_provider=provider,
        processors=[NameWhitelistProcessor(whitelist=["video.played"])],
        backends={
            "direct": direct,
            "nothing_passes": RoutingBackend(processors=[RegexFilter("blocklist", [".*"])], backends={"m": blocked}),
        },
    )
    video = tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.register("video.played", "A learner started a video.", FIELDS)
    for _ in range(2):
        with tracker.context("course", {"course_id": "c1"}, description="The course the learner is in."):
            tracker.emit("video.played", {"position": 1, "video_id": "v1"})
            tracker.emit("page.viewed", {"path": "/"})
    tracker.flush()
    course = tracker.registry.contexts["course"]

    expected = [(video.id, "event", "video.played"), (course.id, "context", "course")]
    bodies = [record.log_record.body for record in otel_exporter.get_finished_logs()]
    for received in (
        metadata_of(direct),
        metadata_of(blocked),
        metadata_of(provider_branch),
        [body["data"] for body in bodies if body["name"] == METADATA_EVENT_NAME],
    ):
        assert [(item["id"], item["kind"], item["name"]) for item in received] == expected
    # The processors still filter the events themselves.
    assert [event["name"] for event in events_of(direct)] == ["video.played", "video.played"]
    assert events_of(blocked) == []


def test_a_metadata_record_is_the_metadata_with_fields_as_a_list(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    video = tracker.register("video.played", "A learner started a video.", FIELDS)
    (record,) = memory_backend.events
    assert record["name"] == METADATA_EVENT_NAME
    assert record["context"] == {}
    assert record["data"] == {
        "id": video.id,
        "kind": "event",
        "name": "video.played",
        "description": "A learner started a video.",
        "fields": [
            {"name": "position", "description": FIELDS["position"]},
            {"name": "video_id", "description": FIELDS["video_id"]},
        ],
    }
    document = metadata_document(record)
    assert document["_id"] == video.id
    assert document["registered_at"] == record["timestamp"]
    query, update = metadata_upsert(record)
    assert query == {"_id": video.id}
    assert update == {"$setOnInsert": {key: value for key, value in document.items() if key != "_id"}}


def test_context_type_id_is_that_of_the_innermost_described_context(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend})
    deployment = tracker.register_context("deployment", "Where the code runs.", {"release": "The release tag."})
    tracker.enter_context("deployment", {"release": "r1"}, process_wide=True)
    try:
        tracker.emit("a", {})
        tracker.enter_context("request", {"user_id": 1}, "An HTTP request.", {"user_id": "Who made it."})
        tracker.emit("b", {})
        tracker.enter_context("course", {"course_id": "c1"}, description="The course the learner is in.")
        tracker.enter_context("undescribed", {"x": 1})
        tracker.emit("c", {})
        tracker.enter_context("request", {"user_id": 2})  # re-entered in place: course stays innermost
        tracker.emit("d", {})
        tracker.exit_context("course")
        tracker.emit("e", {})
        tracker.exit_context("request")
        tracker.exit_context("undescribed")
    finally:
        tracker.exit_context("deployment")
    tracker.emit("f", {})

    request = tracker.registry.contexts["request"]
    course = tracker.registry.contexts["course"]
    ids = {event["name"]: event.get("context_type_id") for event in events_of(memory_backend)}
    assert ids == {"a": deployment.id, "b": request.id, "c": course.id, "d": course.id, "e": request.id, "f": None}


@pytest.mark.parametrize("locator", [DefaultContextLocator, ThreadLocalContextLocator])
def test_context_type_id_with_the_original_locators(make_tracker, memory_backend, locator):
    tracker = make_tracker(backends={"memory": memory_backend}, context_locator=locator())
    with tracker.context("request", {"user_id": 1}, "An HTTP request."):
        with tracker.context("undescribed", {"x": 1}):
            tracker.emit("a", {})
    (event,) = events_of(memory_backend)
    assert event["context_type_id"] == tracker.registry.contexts["request"].id


def test_module_level_register_waits_for_the_default_tracker_without_creating_it(memory_backend):
    video = tracker_module.register("video.played", "A learner started a video.", FIELDS)
    assert tracker_module.TRACKERS == {}

    tracker_module.register_tracker(tracker_module.Tracker(backends={"memory": memory_backend}))
    tracker_module.emit("video.played", {"position": 1, "video_id": "v1"})
    course = tracker_module.register_context("course", "The course the learner is in.", {"course_id": "Its key."})

    assert [item["id"] for item in metadata_of(memory_backend)] == [video.id, course.id]
    assert events_of(memory_backend)[0]["name_id"] == video.id


def test_the_default_tracker_made_from_the_environment_adopts_module_level_types(captured_events, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_EXPORTERS", "eventtracking_logger")
    video = tracker_module.register("video.played", "A learner started a video.", FIELDS)
    tracker_module.emit("video.played", {"position": 1, "video_id": "v1"})
    tracker_module.get_tracker().flush()

    lines = logged_events(captured_events)
    assert [line["name"] for line in lines] == [METADATA_EVENT_NAME, "video.played"]
    assert lines[0]["data"]["id"] == lines[1]["name_id"] == video.id


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (("", "x"), ValueError),
        ((METADATA_EVENT_NAME, "x"), ValueError),
        (("a.b", 42), TypeError),
        (("a.b", "x", {"field": 1}), TypeError),
        (("a.b", "x", ["field"]), TypeError),
    ],
)
def test_bad_registrations_fail_where_they_are_made(make_tracker, arguments, error):
    with pytest.raises(error):
        make_tracker().register(*arguments)
