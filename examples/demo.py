"""The demo: the Flask example under opentelemetry-instrument, on the embedded defaults.

It starts a local MongoDB-compatible server (nx-27017, in memory), then the unmodified
examples/flask_app under ``opentelemetry-instrument gunicorn``, configured only by environment
variables: this package's distro, events to a JSON-lines file and to MongoDB. It sends a few
requests as a browser would, stops the app (which flushes its events), and prints what was stored.
Run it with ``./scripts/demo``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import requests

from tests.peers.mongodb import NxServer, client_for
from tests.peers.servers import clean_env, gunicorn


def browse(url: str) -> None:
    """A short visit: a page, a login, two pages, a streamed page and a page that fails."""
    browser = requests.Session()
    browser.headers["User-Agent"] = "event-tracking-otel demo"
    browser.cookies.set("_ga", "GA1.2.1234.5678")
    browser.get(f"{url}/", timeout=10)
    browser.post(f"{url}/login", data={"username": "alice", "password": "demo"}, timeout=10)
    browser.get(f"{url}/", headers={"X-Request-ID": "demo-request-1"}, timeout=10)
    browser.get(f"{url}/stream", timeout=10)
    browser.get(f"{url}/fail", timeout=10)


def show(title: str, lines: list[str]) -> None:
    print(f"\n== {title} ({len(lines)})")
    for line in lines:
        print(line)


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
            show("JSON lines written by the eventtracking_logger exporter", events_file.read_text().splitlines())
            with client_for(mongo.uri) as client:
                documents = client["demo"]["events"].find({}, {"_id": False}).sort("timestamp")
                show("Documents in MongoDB (demo.events)", [json.dumps(doc, default=str) for doc in documents])
        finally:
            mongo.stop()


if __name__ == "__main__":
    main()
