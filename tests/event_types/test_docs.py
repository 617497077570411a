"""``python -m eventtracking docs``: from a module, from MongoDB, from a log; Markdown, and HTML in Chromium."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from eventtracking.exporters.logger import LoggingLogExporter
from eventtracking.exporters.mongodb import MongoLogExporter
from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking.registry import DEFAULT_METADATA_COLLECTION, describe, is_metadata, metadata_upsert
from tests.event_types.schema_check import assert_valid_events
from tests.peers.mongodb import client_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "tests.event_types.sample_events"
VIDEO_FIELDS = {"position": "Seconds from the start.", "video_id": "The video's id."}
VIDEO_V1 = describe("event", "edx.video.played", "A learner started a video.", VIDEO_FIELDS)
VIDEO_V2 = describe(
    "event",
    "edx.video.played",
    "A learner started a video.",
    {**VIDEO_FIELDS, "speed": "Playback speed | 1.0 is normal."},
)


def docs(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the documented command, as a user would, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "eventtracking", "docs", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def test_markdown_from_a_module_lists_types_contexts_fields_and_versions():
    text = docs("--module", SAMPLE).stdout

    for heading in ("### edx.problem.checked", "### edx.video.played", "### report.generated", "### request"):
        assert heading in text
    assert text.index("## Event types") < text.index("### edx.video.played") < text.index("## Contexts")
    assert text.index("## Contexts") < text.index("### request")
    assert f"Current version (2 of 2): `{VIDEO_V2.id}`" in text
    assert f"Version 1 of 2: `{VIDEO_V1.id}`" in text
    assert "| `speed` | Playback speed \\| 1.0 is normal. |" in text
    assert "[edx.video.played](#event-edx-video-played)" in text
    assert '<a id="event-edx-video-played"></a>' in text
    assert "A &lt;report&gt; was generated." in text


@pytest.mark.parametrize("module", ["examples.flask_app.events", "eventtracking.instrumentation.request_context"])
def test_the_request_context_is_documented_by_the_instrumentation_and_the_examples(module):
    text = docs("--module", module).stdout
    section = text[text.index("## Contexts") :]
    assert "### eventtracking.request" in section
    assert f"Current version: `{REQUEST_CONTEXT.id}`" in section
    assert REQUEST_CONTEXT.description in section
    for key, meaning in REQUEST_CONTEXT.fields.items():
        assert f"| `{key}` | {meaning} |" in section
    assert ("### demo.page.viewed" in text) == (module == "examples.flask_app.events")


def test_the_console_script_is_the_same_command():
    script = Path(sys.executable).with_name("eventtracking-docs")
    result = subprocess.run(
        [str(script), "--module", SAMPLE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert "### edx.video.played" in result.stdout
    assert f"Current version (2 of 2): `{VIDEO_V2.id}`" in result.stdout


def test_the_command_fails_clearly_without_a_source_or_without_metadata(tmp_path):
    assert docs(check=False).returncode == 2
    empty = tmp_path / "empty.log"
    empty.write_text('{"name": "a.b", "data": {}}\n')
    result = docs("--jsonl", str(empty), check=False)
    assert result.returncode == 1
    assert "No event type" in result.stderr


def test_the_html_page_lists_the_types_and_its_search_box_filters_them(tmp_path, chromium):
    output = tmp_path / "events.html"
    docs("--module", SAMPLE, "--format", "html", "--output", str(output))
    page = chromium.new_page()
    try:
        page.goto(output.as_uri())

        def visible() -> list[str]:
            return page.eval_on_selector_all(
                "section.type:not([hidden]) h2", "nodes => nodes.map(node => node.firstChild.textContent)"
            )

        everything = ["edx.problem.checked", "edx.video.played", "report.generated", "request"]
        assert visible() == everything
        assert page.locator("nav a").all_inner_texts() == everything
        search = page.locator("#search")
        search.fill("video")
        assert visible() == ["edx.video.played"]
        assert page.locator("nav li:not([hidden])").all_inner_texts() == ["edx.video.played"]
        search.fill("problem_id")  # a field name
        assert visible() == ["edx.problem.checked"]
        search.fill(VIDEO_V1.id)  # the id an old event carries finds its version
        assert visible() == ["edx.video.played"]
        search.fill("learner started")  # words of a description, in any case
        assert visible() == ["edx.video.played"]
        search.fill("no such thing")
        assert visible() == []
        assert page.locator("#no-match").is_visible()
        search.fill("")
        assert visible() == everything
        page.locator("nav a", has_text="request").click()
        assert page.evaluate("location.hash") == "#context-request"
        assert page.locator("#context-request").is_visible()
    finally:
        page.close()


def test_docs_from_the_metadata_collection_in_mongodb(make_tracker, memory_backend, mongo_server, mongo_database):
    # The metadata records a tracker publishes...
    tracker = make_tracker(backends={"memory": memory_backend})
    tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
    with tracker.context("course", {"course_id": "c1"}, description="The course the learner is in."):
        tracker.emit("edx.video.played", {"position": 1, "video_id": "v1"})
    records = [event for event in memory_backend.events if is_metadata(event)]
    assert len(records) == 2

    # ...kept in a metadata collection keyed by id, as the MongoDB exporter does (twice: idempotent)...
    with client_for(mongo_server.uri) as client:
        collection = client[mongo_database]["event_metadata"]
        for record in records * 2:
            collection.update_one(*metadata_upsert(record), upsert=True)
        assert collection.count_documents({}) == 2
        assert collection.find_one({"_id": VIDEO_V1.id})["fields"][0] == {
            "name": "position",
            "description": "Seconds from the start.",
        }

    text = docs("--mongodb-uri", mongo_server.uri, "--database", mongo_database).stdout
    assert f"`{VIDEO_V1.id}`" in text
    assert "### course" in text and "The course the learner is in." in text


def test_docs_from_what_the_mongodb_exporter_wrote(make_tracker, mongo_server, mongo_database):
    exporter = MongoLogExporter(uri=mongo_server.uri, database=mongo_database, collection="events")
    tracker = make_tracker(backends={"mongo": exporter})
    problem = tracker.register("edx.problem.checked", "A learner submitted an answer.", {"problem_id": "Its key."})
    tracker.emit("edx.problem.checked", {"problem_id": "p1"})
    assert tracker.flush()

    with client_for(mongo_server.uri) as client:
        database = client[mongo_database]
        (event,) = database["events"].find()  # the metadata is in its own collection, not among the events
        assert assert_valid_events([event]) == 1
        assert event["name_id"] == problem.id
        assert database[DEFAULT_METADATA_COLLECTION].count_documents({"_id": problem.id}) == 1

    # The command reads the exporter's default metadata collection.
    text = docs("--mongodb-uri", mongo_server.uri, "--database", mongo_database).stdout
    assert f"Current version: `{problem.id}`" in text
    assert "| `problem_id` | Its key. |" in text


def test_docs_from_the_json_lines_of_the_logging_exporter(make_tracker, tmp_path):
    log_file = tmp_path / "events.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))  # a prefix, as real logs have
    logger = logging.getLogger("tests.event_types.docs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        tracker = make_tracker(backends={"log": LoggingLogExporter(name=logger.name)})
        tracker.register("edx.video.played", "A learner started a video.", VIDEO_FIELDS)
        tracker.emit("edx.video.played", {"position": 1, "video_id": "v1"})
        tracker.flush()
    finally:
        logger.removeHandler(handler)
        handler.close()

    text = docs("--jsonl", str(log_file)).stdout
    assert f"Current version: `{VIDEO_V1.id}`" in text
    assert "Generated from log events.log." in text


def test_markdown_and_html_list_the_same_types():
    markdown = docs("--module", SAMPLE).stdout
    page = docs("--module", SAMPLE, "--format", "html").stdout
    for anchor in ("event-edx-video-played", "event-edx-problem-checked", "event-report-generated", "context-request"):
        assert f'id="{anchor}"' in markdown
        assert f'id="{anchor}"' in page
