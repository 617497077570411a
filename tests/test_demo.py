"""The demo command's program: the Flask example under opentelemetry-instrument stores and prints its events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eventtracking.registry import metadata_from_record
from examples.flask_app import events as example_events

(REQUEST_CONTEXT,) = example_events.CONTEXTS

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    "demo.page.viewed",
    "demo.user.logged_in",
    "demo.page.viewed",
    "demo.page.viewed",
    "demo.button.clicked",
    "demo.stream.chunk",
    "demo.stream.chunk",
    "demo.stream.chunk",
    "demo.failure.started",
]


def test_demo_prints_the_events_from_the_log_file_and_from_mongodb_then_their_types():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sections = result.stdout.split("\n== ")[1:]
    titles = [section.splitlines()[0] for section in sections]
    assert titles[:2] == [
        "JSON lines written by the eventtracking_logger exporter, events (9)",
        "Documents in MongoDB (demo.events) (9)",
    ]
    assert titles[2].startswith("Event types and contexts: metadata in MongoDB (demo.") and titles[2].endswith(" (6)")
    assert "(and 6 lines named eventtracking.metadata: the event types and the request context, below)" in sections[0]
    logged, stored, types = (
        [json.loads(line) for line in section.splitlines()[1:] if line.startswith("{")] for section in sections
    )
    assert [event["name"] for event in logged] == NAMES
    assert [event["name"] for event in stored] == NAMES
    assert logged[2]["context"]["username"] == "alice" and logged[2]["context"]["request_id"] == "demo-request-1"
    assert all(len(event["trace_id"]) == 32 for event in stored)

    # Every event carries the id of its registered type and of the request context, whose documentation
    # MongoDB holds: the event types first, then the context.
    registered = {metadata.id: metadata for metadata in (*example_events.TYPES, REQUEST_CONTEXT)}
    assert {found[0].id: found[0] for found in map(metadata_from_record, types)} == registered
    assert [found[0].kind for found in map(metadata_from_record, types)] == ["event"] * 5 + ["context"]
    ids = {metadata.name: metadata.id for metadata in example_events.TYPES}
    assert [event["name_id"] for event in logged] == [ids[name] for name in NAMES]
    assert [event["name_id"] for event in stored] == [ids[name] for name in NAMES]
    assert [event["context_type_id"] for event in logged] == [REQUEST_CONTEXT.id] * len(NAMES)
    assert [event["context_type_id"] for event in stored] == [REQUEST_CONTEXT.id] * len(NAMES)

    # The click, sent as the browser client sends it: the server's request context, the client's under "client".
    clicked = stored[NAMES.index("demo.button.clicked")]
    assert clicked["data"] == {"button": "like", "clicks": 1}
    context = clicked["context"]
    assert (context["origin"], context["user_id"], context["username"]) == ("client", 1, "alice")
    assert (context["path"], context["method"], context["agent"]) == (
        "/eventtracking/events",
        "POST",
        "event-tracking-otel demo",
    )
    assert context["client"]["page"].endswith("/page")
