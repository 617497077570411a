"""The demo: the Flask example under opentelemetry-instrument, on the embedded defaults.

It starts a local MongoDB-compatible server (nx-27017, in memory), then the unmodified
examples/flask_app under ``opentelemetry-instrument gunicorn``, configured only by environment
variables: this package's distro, events to a JSON-lines file and to MongoDB. It sends a few
requests as a browser would, including a batch from the browser client (``Tracker.emit`` on the
page ``/page``, posted as ``tracker.js`` posts it), stops the app (which flushes its events), and
prints what was stored: the events, then the documentation of their types and of the request
context (the metadata records the app writes once for each type it registers, which the events'
``name_id`` refers to, and for the request context the instrumentor describes, which their
``context_type_id`` refers to). Run it with ``./scripts/demo``.
"""

from __future__ import annotations

import datetime
import json
import re
import tempfile
from pathlib import Path

import pymongo
import requests

from eventtracking.registry import DEFAULT_METADATA_COLLECTION, METADATA_EVENT_NAME
from tests.peers.mongodb import NxServer, client_for
from tests.peers.servers import clean_env, gunicorn

# What eventtracking_script() writes in the page: the client's endpoint, CSRF token and its field.
SCRIPT_TAG = re.compile(r'<script src="[^"]*"\s+data-endpoint="([^"]+)"\s+data-csrf-token="([^"]+)"')


def browse(url: str) -> None:
    """A short visit: a page, a login, two pages, a click sent by the browser client, a streamed page, a failure."""
    browser = requests.Session()
    browser.headers["User-Agent"] = "event-tracking-otel demo"
    browser.cookies.set("_ga", "GA1.2.1234.5678")
    browser.get(f"{url}/", timeout=10)
    browser.post(f"{url}/login", data={"username": "alice", "password": "demo"}, timeout=10)
    browser.get(f"{url}/", headers={"X-Request-ID": "demo-request-1"}, timeout=10)
    click(browser, url)
    browser.get(f"{url}/stream", timeout=10)
    browser.get(f"{url}/fail", timeout=10)


def click(browser: requests.Session, url: str) -> None:
    """Open /page and send what its Tracker.emit sends for a click: a batch, as tracker.js posts it."""
    page = browser.get(f"{url}/page", timeout=10)
    endpoint, token = SCRIPT_TAG.search(page.text).groups()
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event = {
        "name": "demo.button.clicked",
        "data": {"button": "like", "clicks": 1},
        "timestamp": now,
        "context": {"page": f"{url}/page"},
    }
    reply = browser.post(
        f"{url}{endpoint}",
        data={"eventtracking_token": token, "events": json.dumps({"events": [event]})},
        timeout=10,
    )
    reply.raise_for_status()


def show(title: str, lines: list[str]) -> None:
    print(f"\n== {title} ({len(lines)})")
    for line in lines:
        print(line)


def metadata_documents(database: pymongo.database.Database) -> tuple[str, list[dict]]:
    """Where MongoDB keeps the event types and contexts, and their documents: event types first, by name.

    The MongoDB exporter keeps them in their own collection, keyed by id; an exporter that keeps
    them with the events stores them as records named ``eventtracking.metadata``.
    """
    documents = list(database[DEFAULT_METADATA_COLLECTION].find().sort([("kind", -1), ("name", 1)]))
    if documents:
        return f"demo.{DEFAULT_METADATA_COLLECTION}", documents
    records = database["events"].find({"name": METADATA_EVENT_NAME}, {"_id": False, "trace_id": False})
    return f"demo.events, named {METADATA_EVENT_NAME}", sorted(
        records, key=lambda record: (record["data"]["kind"] != "event", record["data"]["name"])
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="eventtracking-demo-") as workdir:
        work = Path(workdir)
        events_file = work / "events.jsonl"
        mongo = NxServer(work / "nx-27017")
        mongo.start()
        try:
            env = clean_env(
                OTEL_PYTHON_DISTRO="eventtracking",
                OTEL_SERVICE_NAME="flask-demo",
                OTEL_TRACES_EXPORTER="none",
                OTEL_METRICS_EXPORTER="none",
                OTEL_LOGS_EXPORTER="eventtracking_logger,eventtracking_mongodb",
                EVENTTRACKING_LOGGER_FILE=str(events_file),
                EVENTTRACKING_LOGGER_MAX_EVENT_SIZE="0",
                EVENTTRACKING_MONGODB_URI=mongo.uri,
                EVENTTRACKING_MONGODB_DATABASE="demo",
                EVENTTRACKING_SESSION_HASH_KEY="demo-session-hash-key",
            )
            log = work / "gunicorn.log"
            print("Serving examples/flask_app under opentelemetry-instrument gunicorn; events go to a JSON-lines")
            print(f"file and to nx-27017 at {mongo.uri} (database demo, collection events).")
            with gunicorn("examples.flask_app.app:app", env, under_otel=True, log=log, config=None) as url:
                browse(url)
            lines = events_file.read_text().splitlines()
            events = [line for line in lines if json.loads(line)["name"] != METADATA_EVENT_NAME]
            show("JSON lines written by the eventtracking_logger exporter, events", events)
            print(
                f"(and {len(lines) - len(events)} lines named {METADATA_EVENT_NAME}: "
                "the event types and the request context, below)"
            )
            with client_for(mongo.uri) as client:
                documents = client["demo"]["events"].find({}, {"_id": False}).sort("timestamp")
                stored = [doc for doc in documents if doc["name"] != METADATA_EVENT_NAME]
                show("Documents in MongoDB (demo.events)", [json.dumps(doc, default=str) for doc in stored])
                where, types = metadata_documents(client["demo"])
                show(
                    f"Event types and contexts: metadata in MongoDB ({where})",
                    [json.dumps(doc, default=str) for doc in types],
                )
        finally:
            mongo.stop()


if __name__ == "__main__":
    main()
