"""Events per second from ``emit`` to documents counted in MongoDB, through the original event-tracking API.

It runs unchanged under this project and under the original ``event-tracking`` package (both are
imported as ``eventtracking``), so the two can be compared against the same server; see
``tests/perf/compare_mongo.sh``. The scenario: a Tracker with two entered contexts, one processor
and a ``MongoBackend`` with acknowledged writes (``extra={"w": 1}``: the original's default
``w=0`` loses events, and the test server discards unacknowledged writes anyway). N events are
emitted as fast as the caller can, and the clock stops when all N documents are in the
collection. Under this project the buffer is sized for the burst (``max_queue_size``), and a
second figure measures the OTel-native path: the tracker's LoggerProvider with an
``EventBatchProcessor`` and a ``MongoLogExporter``; a third, for reference, is the server's own
ceiling (ready-made documents inserted with pymongo, no tracker), which bounds any client.

The server is ``--uri``, or an ``nx-27017`` (MongoDB wire protocol, from PyPI) started here on a
free loopback port with an in-memory database.

Usage: python tests/perf/bench_mongo.py [--events N] [--repeat R] [--uri URI] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymongo

from eventtracking.backends.mongodb import MongoBackend
from eventtracking.processors.whitelist import NameWhitelistProcessor
from eventtracking.tracker import Tracker

OURS = importlib.util.find_spec("eventtracking.records") is not None
NAME = "edx.course.enrollment.activated"
COURSE_ID = "course-v1:edX+DemoX+Demo_Course"
REQUEST = {"user_id": 42, "username": "learner", "ip": "127.0.0.1", "path": "/courses"}
COURSE = {"course_id": COURSE_ID, "org_id": "edX"}
WARMUP = 200
WAIT_SECONDS = 600


@contextlib.contextmanager
def nx_server() -> Iterator[str]:
    """An in-memory nx-27017 on a free loopback port, with its own pid and log files; yields its URI."""
    executable = Path(sys.executable).with_name("nx-27017")
    command = str(executable) if executable.exists() else shutil.which("nx-27017")
    if command is None:
        sys.exit("nx-27017 is not installed in this environment (pip install nx-27017), or pass --uri")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="bench-mongo-") as workdir:
        arguments = ["--host", "127.0.0.1", "--port", str(port), "--db", "memory"]
        arguments += ["--pid-file", f"{workdir}/nx.pid", "--log-file", f"{workdir}/nx.log"]
        process = subprocess.Popen([command, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uri = f"mongodb://127.0.0.1:{port}/"
        try:
            with pymongo.MongoClient(uri, serverSelectionTimeoutMS=20000) as client:
                client.admin.command("ping")
            yield uri
        finally:
            process.terminate()
            process.wait(10)


def with_contexts(tracker: Tracker) -> Tracker:
    tracker.enter_context("request", REQUEST)
    tracker.enter_context("course", COURSE)
    return tracker


def data(seq: int) -> dict[str, Any]:
    return {"course_id": COURSE_ID, "mode": "audit", "seq": seq}


def wait_for(collection: Any, count: int) -> None:
    """Return once ``collection`` holds ``count`` documents (a cheap count, polled)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while collection.estimated_document_count() < count:
        if time.monotonic() > deadline:
            sys.exit(f"only {collection.estimated_document_count()} of {count} documents arrived")
        time.sleep(0.01)


def measure(uri: str, events: int, make_tracker: Callable[[str], Tracker]) -> dict[str, float]:
    """Emit ``events`` events through a fresh tracker and database; time until they are all stored."""
    database = f"bench_{uuid.uuid4().hex[:12]}"
    with pymongo.MongoClient(uri) as client:
        collection = client[database]["events"]
        tracker = with_contexts(make_tracker(database))
        # Warm-up: connections made, indexes created, before the clock starts.
        for seq in range(WARMUP):
            tracker.emit(NAME, data(-seq))
        if OURS:
            tracker.flush(WAIT_SECONDS * 1000)
        wait_for(collection, WARMUP)
        started = time.perf_counter()
        for seq in range(events):
            tracker.emit(NAME, data(seq))
        emitted = time.perf_counter()
        if OURS:
            tracker.flush(WAIT_SECONDS * 1000)  # rather than polling the server while it writes
        wait_for(collection, WARMUP + events)
        stored = time.perf_counter()
        exact = collection.count_documents({"name": NAME})
        if exact != WARMUP + events:
            sys.exit(f"{exact} documents stored for {WARMUP + events} events")
        if OURS:
            tracker.close()
        client.drop_database(database)
    return {
        "events_per_second": events / (stored - started),
        "emit_us": (emitted - started) / events * 1e6,
        "seconds": stored - started,
    }


def seed_backend(uri: str, events: int) -> Callable[[str], Tracker]:
    """The seed API: ``Tracker(backends={"mongo": MongoBackend(...)})``, acknowledged writes."""
    buffer = {"max_queue_size": events + WARMUP} if OURS else {}

    def make(database: str) -> Tracker:
        backend = MongoBackend(host=uri, database=database, extra={"w": 1}, **buffer)
        return Tracker(backends={"mongo": backend}, processors=[NameWhitelistProcessor(whitelist=[NAME])])

    return make


def otel_native(uri: str, events: int) -> Callable[[str], Tracker]:
    """Only under this project: Tracker -> LoggerProvider -> EventBatchProcessor -> MongoLogExporter."""
    from eventtracking.exporters.mongodb import MongoLogExporter
    from opentelemetry.sdk._logs import LoggerProvider

    from eventtracking.batching import EventBatchProcessor

    def make(database: str) -> Tracker:
        provider = LoggerProvider(shutdown_on_exit=False)
        exporter = MongoLogExporter(uri=uri, database=database)
        provider.add_log_record_processor(EventBatchProcessor(exporter, max_queue_size=events + WARMUP))
        return Tracker(logger_provider=provider, processors=[NameWhitelistProcessor(whitelist=[NAME])])

    return make


def server_ceiling(uri: str, events: int) -> dict[str, float]:
    """For reference: the server's own rate for ready-made documents, pymongo ``insert_many`` of 512, no tracker."""
    import datetime

    from bson import ObjectId

    database = f"bench_{uuid.uuid4().hex[:12]}"
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - datetime.UTC is Python 3.11+
    documents = [
        {"_id": ObjectId(), "name": NAME, "timestamp": now, "context": {**REQUEST, **COURSE}, "data": data(seq)}
        for seq in range(events)
    ]
    with pymongo.MongoClient(uri, w=1) as client:
        collection = client[database]["events"]
        collection.create_indexes([pymongo.IndexModel("name"), pymongo.IndexModel("timestamp")])
        started = time.perf_counter()
        for start in range(0, events, 512):
            collection.insert_many(documents[start : start + 512], ordered=False)
        seconds = time.perf_counter() - started
        client.drop_database(database)
    return {"events_per_second": events / seconds, "emit_us": 0.0, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the best is reported")
    parser.add_argument("--uri", help="a MongoDB server to use instead of starting nx-27017")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    label = "event-tracking-otel" if OURS else "original event-tracking"
    with contextlib.ExitStack() as stack:
        uri = args.uri or stack.enter_context(nx_server())
        scenarios = {f"{label}: Tracker -> MongoBackend (w=1)": seed_backend(uri, args.events)}
        if OURS:
            scenarios[f"{label}: OTel-native, LoggerProvider -> MongoLogExporter"] = otel_native(uri, args.events)
        runs = {name: lambda make=make: measure(uri, args.events, make) for name, make in scenarios.items()}
        if OURS:
            runs["reference: the server's ceiling, pymongo insert_many(512), no tracker"] = lambda: server_ceiling(
                uri, args.events
            )
        figures = {
            name: max((run() for _ in range(args.repeat)), key=lambda figure: figure["events_per_second"])
            for name, run in runs.items()
        }
    if args.json:
        json.dump(figures, sys.stdout)
        print()
        return
    for name, figure in figures.items():
        print(
            f"{figure['events_per_second']:9.0f} events/s  (emit {figure['emit_us']:7.1f} us on the caller's thread)  "
            f"{name}"
        )


if __name__ == "__main__":
    main()
