"""The demo command's program: the Flask example under opentelemetry-instrument stores and prints its events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    "demo.page.viewed",
    "demo.user.logged_in",
    "demo.page.viewed",
    "demo.stream.chunk",
    "demo.stream.chunk",
    "demo.stream.chunk",
    "demo.failure.started",
]


def test_demo_prints_the_events_from_the_log_file_and_from_mongodb():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sections = result.stdout.split("\n== ")[1:]
    assert [section.splitlines()[0] for section in sections] == [
        "JSON lines written by the eventtracking_logger exporter (7)",
        "Documents in MongoDB (demo.events) (7)",
    ]
    logged, stored = ([json.loads(line) for line in section.splitlines()[1:]] for section in sections)
    assert [event["name"] for event in logged] == NAMES
    assert [event["name"] for event in stored] == NAMES
    assert logged[2]["context"]["username"] == "alice" and logged[2]["context"]["request_id"] == "demo-request-1"
    assert all(len(event["trace_id"]) == 32 for event in stored)
