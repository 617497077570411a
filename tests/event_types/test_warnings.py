"""The five warnings of the original design, their rate limit and counters, strict mode, and what is never lost."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping

import pytest

from eventtracking import diagnostics, values
from eventtracking.registry import is_metadata
from eventtracking.tracker import InvalidEvent

FIELDS = {"position": "Seconds from the start of the video.", "video_id": "The video's id."}


class Opaque:
    """A value the value rule can only record as str(value)."""

    def __str__(self) -> str:
        return "opaque"


@pytest.fixture
def warnings_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="eventtracking")
    return caplog


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


def recorded(backend) -> list[dict]:
    return [event for event in backend.events if not is_metadata(event)]


CASES = {
    "unregistered_event_type": ("video.paused", {"position": 1}, ["'video.paused'"]),
    "unregistered_field": ("video.played", {"position": 1, "video_id": "v", "volume": 0.5}, ["volume"]),
    "missing_field": ("video.played", {"position": 1}, ["video_id"]),
    "unserializable_field": ("video.played", {"position": Opaque(), "video_id": "v"}, ["'position'", "Opaque"]),
    "event_too_large": ("video.played", {"position": 1, "video_id": "v" * 600}, ["'video_id'", "bytes"]),
}


@pytest.mark.parametrize("condition", CASES)
def test_each_condition_warns_naming_type_and_field_counts_and_keeps_the_event(
    condition, make_tracker, memory_backend, warnings_log, monkeypatch
):
    monkeypatch.setenv("EVENTTRACKING_MAX_EVENT_SIZE", "500")
    name, data, named = CASES[condition]
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.register("video.played", "A learner started a video.", FIELDS)

    tracker.emit(name, data)

    (message,) = warnings_of(warnings_log)
    assert name in message
    for part in named:
        assert part in message
    assert {key: count for key, count in diagnostics.counts().items() if key in CASES} == {condition: 1}
    (event,) = recorded(memory_backend)
    assert event["name"] == name
    assert event["data"] == data


def test_a_valid_event_of_a_registered_type_warns_nothing(make_tracker, memory_backend, warnings_log):
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.emit("video.played", {"position": 1.5, "video_id": "v1"})
    tracker.emit("video.played", {"video_id": "v1", "position": {"seconds": 1, "frames": [1, 2]}})
    assert warnings_of(warnings_log) == []
    assert len(recorded(memory_backend)) == 2


def test_a_hot_path_logs_once_per_type_and_condition_but_counts_every_time(make_tracker, memory_backend, warnings_log):
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.register("video.stopped", "A learner stopped a video.", FIELDS)
    for _ in range(50):
        tracker.emit("video.played", {"position": 1})
    tracker.emit("video.stopped", {"position": 1})
    tracker.emit("video.played", {"position": 1, "video_id": "v", "volume": 1})

    messages = warnings_of(warnings_log)
    assert len(messages) == 3
    assert ["video.played" in messages[0], "video.stopped" in messages[1], "volume" in messages[2]] == [True] * 3
    assert diagnostics.counts()["missing_field"] == 51
    assert len(recorded(memory_backend)) == 52


def test_the_interval_comes_from_the_environment(make_tracker, warnings_log, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_WARNING_INTERVAL", "0")
    tracker = make_tracker()
    tracker.register("video.played", "A learner started a video.", FIELDS)
    for _ in range(3):
        tracker.emit("video.played", {"position": 1})
    assert len(warnings_of(warnings_log)) == 3


def test_nothing_is_checked_while_nothing_is_registered(make_tracker, memory_backend, warnings_log):
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.emit("page.viewed", {"path": "/", "big": "x" * 40000})
    assert warnings_of(warnings_log) == []


def test_validate_all_checks_unregistered_events_too(make_tracker, memory_backend, warnings_log, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_VALIDATE", "all")
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.emit("page.viewed", {"path": Opaque()})
    counts = diagnostics.counts()
    assert counts["unregistered_event_type"] == 1
    assert counts["unserializable_field"] == 1
    assert len(warnings_of(warnings_log)) == 2


def test_validate_off_checks_nothing_but_events_still_carry_their_ids(
    make_tracker, memory_backend, warnings_log, monkeypatch
):
    monkeypatch.setenv("EVENTTRACKING_VALIDATE", "off")
    tracker = make_tracker(backends={"memory": memory_backend})
    video = tracker.register("video.played", "A learner started a video.", FIELDS)
    tracker.emit("video.played", {"surprise": Opaque()})
    tracker.emit("page.viewed", {})
    assert warnings_of(warnings_log) == []
    assert [event.get("name_id") for event in recorded(memory_backend)] == [video.id, None]


def test_the_size_is_that_of_the_whole_event_as_compact_utf8_json(make_tracker, memory_backend, monkeypatch):
    # Non-ASCII text: two bytes per character, so counting characters would be wrong.
    data = {"position": 1, "video_id": "é" * 300}
    probe = make_tracker(backends={"memory": memory_backend})
    probe.register("video.played", "A learner started a video.", FIELDS)
    with probe.context("course", {"course_id": "course-v1:edX+DemoX"}):
        probe.emit("video.played", data)
    (event,) = recorded(memory_backend)
    size = len(json.dumps(values.portable(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    for limit, too_large in ((size, 0), (size - 1, 1)):
        diagnostics.reset()
        monkeypatch.setenv("EVENTTRACKING_MAX_EVENT_SIZE", str(limit))
        tracker = make_tracker()
        tracker.register("video.played", "A learner started a video.", FIELDS)
        with tracker.context("course", {"course_id": "course-v1:edX+DemoX"}):
            tracker.emit("video.played", data)
        assert diagnostics.counts().get("event_too_large", 0) == too_large, limit


def test_strict_mode_raises_instead_and_records_nothing(make_tracker, memory_backend):
    tracker = make_tracker(backends={"memory": memory_backend}, strict=True)
    tracker.register("video.played", "A learner started a video.", FIELDS)
    with pytest.raises(InvalidEvent, match="video_id"):
        tracker.emit("video.played", {"position": 1})
    with pytest.raises(InvalidEvent, match="not registered"):
        tracker.emit("video.paused", {})
    tracker.emit("video.played", {"position": 1, "video_id": "v1"})
    assert [event["data"] for event in recorded(memory_backend)] == [{"position": 1, "video_id": "v1"}]
    assert diagnostics.counts()["missing_field"] == 1


def test_strict_mode_from_the_environment(make_tracker, monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_STRICT", "true")
    tracker = make_tracker()
    tracker.register("video.played", "A learner started a video.", FIELDS)
    assert tracker.strict
    with pytest.raises(InvalidEvent):
        tracker.emit("video.played", {})


class Exploding(Mapping):
    """Event data that breaks whoever reads its keys."""

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


def test_a_check_that_breaks_never_reaches_the_caller_and_the_event_is_recorded(
    make_tracker, memory_backend, warnings_log
):
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.register("video.played", "A learner started a video.", FIELDS)
    data = Exploding()
    tracker.emit("video.played", data)
    assert diagnostics.counts()["validation_error"] == 1
    (event,) = recorded(memory_backend)
    assert event["data"] is data
