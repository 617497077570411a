"""The shipped JSON Schema of the event envelope, against what the exporters write, and the wheel that ships it."""

from __future__ import annotations

import datetime
import decimal
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from eventtracking.exporters.logger import LoggingLogExporter

from eventtracking.registry import METADATA_EVENT_NAME
from tests.event_types.schema_check import assert_valid_events, logged_events, schema_errors

ROOT = Path(__file__).resolve().parents[2]
LOGGER = "tests.event_types.schema"
FIELDS = {"position": "Seconds from the start of the video.", "video_id": "The video's id."}


def emit_every_kind_of_event(tracker) -> list[str]:
    """Metadata records, registered and unregistered events, odd values, an oversize event; their names."""
    tracker.register("video.played", "A learner started a video.", FIELDS)
    with tracker.context("course", {"course_id": "c1", "org": {"id": "edX"}}, description="The course."):
        tracker.emit("video.played", {"position": 1.5, "video_id": "v1"})
        tracker.emit(
            "grade.changed",
            {
                "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
                "score": decimal.Decimal("0.75"),
                "tags": {"b", "a"},
                "nested": {"list": [1, "two", None]},
            },
        )
    tracker.emit("essay.submitted", {"text": "x" * 5000})
    tracker.flush()
    return [METADATA_EVENT_NAME, METADATA_EVENT_NAME, "video.played", "grade.changed", "essay.submitted"]


def test_every_line_the_logging_exporter_writes_matches_the_schema(make_tracker, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    names = emit_every_kind_of_event(make_tracker(backends={"log": LoggingLogExporter(name=LOGGER)}))

    lines = logged_events(caplog, LOGGER)
    assert [line["name"] for line in lines] == names
    assert lines[-1]["data"]["eventtracking_truncated"] is True
    assert assert_valid_events(lines) == len(names)


def test_every_otlp_log_body_matches_the_schema(make_tracker, otel_logs):
    provider, exporter = otel_logs
    names = emit_every_kind_of_event(make_tracker(logger_provider=provider))

    bodies = [record.log_record.body for record in exporter.get_finished_logs()]
    assert [body["name"] for body in bodies] == names
    assert "name_id" in bodies[2] and "context_type_id" in bodies[2]
    assert assert_valid_events(bodies) == len(names)


VALID = {"name": "a.b", "timestamp": "2026-01-02T03:04:05.123456+00:00", "context": {}, "data": {}}
METADATA = {"id": "0123456789abcdef", "kind": "event", "name": "a.b", "description": "", "fields": []}


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({key: value for key, value in VALID.items() if key != "name"}, "(event)"),
        ({**VALID, "timestamp": "2026-01-02 03:04:05"}, "timestamp"),
        ({**VALID, "timestamp": "2026-01-02T03:04:05"}, "timestamp"),
        ({**VALID, "data": ["not", "an", "object"]}, "data"),
        ({**VALID, "name_id": "not-an-id"}, "name_id"),
        ({**VALID, "name": METADATA_EVENT_NAME, "data": {**METADATA, "kind": "thing"}}, "data/kind"),
        ({**VALID, "name": METADATA_EVENT_NAME, "data": {**METADATA, "fields": {"a": "b"}}}, "data/fields"),
    ],
)
def test_the_schema_rejects_what_is_not_an_event(event, path):
    errors = schema_errors(event)
    assert any(error.startswith(f"{path}:") for error in errors), errors


def test_the_schema_accepts_a_minimal_event_and_a_metadata_record():
    assert schema_errors(VALID) == []
    assert schema_errors({**VALID, "name": METADATA_EVENT_NAME, "data": METADATA}) == []


def test_the_wheel_ships_the_schema_the_client_and_the_docs_command(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(ROOT), "-w", str(tmp_path)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    for shipped in (
        "eventtracking/schema/event.schema.json",
        "eventtracking/browser/tracker.js",
        "eventtracking/__main__.py",
        "eventtracking/django/views.py",
        "eventtracking/django/urls.py",
    ):
        assert shipped in names
    assert "eventtracking-docs = eventtracking.docs:main" in scripts
