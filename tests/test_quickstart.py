"""The original README example gives exactly the three events it documents."""

from __future__ import annotations

import datetime
import json
import runpy
import subprocess
import sys
from pathlib import Path

from eventtracking import tracker as tracker_module

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = [
    {"name": "navigation.request", "context": {"user_id": 10938}, "data": {"url": "http://www.edx.org/some/path/1"}},
    {
        "name": "navigation.request",
        "context": {"user_id": 11111, "session_id": "2987lkjdoyoioey"},
        "data": {"url": "http://www.edx.org/some/path/2"},
    },
    {
        "name": "address.create",
        "context": {"user_id": 10938},
        "data": {"name": "foo", "address": {"postal_code": "90210", "country": "United States"}},
    },
]


def test_readme_example_in_process(memory_backend):
    tracker_module.register_tracker(tracker_module.Tracker(backends={"memory": memory_backend}))
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"))

    events = memory_backend.events
    assert [{key: event[key] for key in ("name", "context", "data")} for event in events] == EXPECTED
    for event in events:
        assert list(event) == ["name", "timestamp", "data", "context"]
        assert event["timestamp"].tzinfo == datetime.UTC
    assert events[0]["timestamp"] <= events[1]["timestamp"] <= events[2]["timestamp"]


def test_get_tracker_without_registration_returns_a_working_default(captured_events, monkeypatch):
    monkeypatch.delenv("EVENTTRACKING_EXPORTERS", raising=False)
    tracker = tracker_module.get_tracker()
    assert tracker is tracker_module.get_tracker()
    tracker.emit("navigation.request", {"url": "http://www.edx.org/"})
    tracker.flush()
    lines = [
        json.loads(record.getMessage()) for record in captured_events.records if record.name == "eventtracking.events"
    ]
    assert [line["name"] for line in lines] == ["navigation.request"]


def test_demo_script_prints_the_three_events():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [{key: event[key] for key in ("name", "context", "data")} for event in printed] == EXPECTED
    for event in printed:
        assert datetime.datetime.fromisoformat(event["timestamp"]).utcoffset() == datetime.timedelta(0)
