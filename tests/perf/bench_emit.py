"""Microseconds per ``emit`` on the caller's thread, through the original event-tracking API only.

It runs unchanged under this project and under the original ``event-tracking`` package (both
are imported as ``eventtracking``), so the two can be compared side by side; see
``tests/perf/compare.sh``. The scenario is the one the project's speed goal names: a Tracker with
two entered contexts, one processor and an in-memory ``send(event)`` backend. Where this
project is installed, a second figure measures the OTel-native path: the same events to a log
exporter behind a batch processor, plus OTel's stock ``BatchLogRecordProcessor`` for reference.

Usage: python tests/perf/bench_emit.py [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import timeit

from eventtracking.processors.whitelist import NameWhitelistProcessor
from eventtracking.tracker import Tracker

NAME = "edx.course.enrollment.activated"
DATA = {"course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "audit", "user_id": 42}


class MemoryBackend:
    """The in-memory backend of the original contract."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def send(self, event: dict) -> None:
        self.events.append(event)


def with_contexts(tracker: Tracker) -> Tracker:
    tracker.enter_context("request", {"user_id": 42, "username": "learner", "ip": "127.0.0.1", "path": "/courses"})
    tracker.enter_context("course", {"course_id": "course-v1:edX+DemoX+Demo_Course", "org_id": "edX"})
    return tracker


def per_emit_us(tracker: Tracker, events: int, repeat: int, after=None) -> float:
    """The best of ``repeat`` runs of ``events`` emits, in microseconds per emit."""
    best = float("inf")
    for _ in range(repeat):
        seconds = timeit.timeit(lambda: tracker.emit(NAME, DATA), number=events)
        best = min(best, seconds / events * 1e6)
        if after is not None:
            after()
    return best


def seed_api_scenario(events: int, repeat: int) -> float:
    backend = MemoryBackend()
    tracker = with_contexts(
        Tracker(backends={"memory": backend}, processors=[NameWhitelistProcessor(whitelist=[NAME])])
    )
    result = per_emit_us(tracker, events, repeat, after=backend.events.clear)
    assert backend.events == [] or backend.events[-1]["name"] == NAME
    return result


def otel_native_scenarios(events: int, repeat: int) -> dict[str, float]:
    """Only under this project: the batched OTel paths, caller's thread only."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult

    from eventtracking.batching import EventBatchProcessor

    class CountingExporter(LogRecordExporter):
        def __init__(self) -> None:
            self.count = 0

        def export(self, batch):
            self.count += len(batch)
            return LogRecordExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    figures = {}
    size = events * repeat + 1
    processors = {
        "EventBatchProcessor": lambda exporter: EventBatchProcessor(exporter, max_queue_size=size),
        "stock BatchLogRecordProcessor": lambda exporter: BatchLogRecordProcessor(exporter, max_queue_size=size),
    }
    for label, make in processors.items():
        exporter = CountingExporter()
        provider = LoggerProvider(shutdown_on_exit=False)
        processor = make(exporter)
        provider.add_log_record_processor(processor)
        tracker = with_contexts(
            Tracker(logger_provider=provider, processors=[NameWhitelistProcessor(whitelist=[NAME])])
        )
        figures[f"OTel-native: Tracker -> LoggerProvider -> {label}"] = per_emit_us(
            tracker, events, repeat, after=lambda p=processor: p.force_flush()
        )
        provider.shutdown()
        assert exporter.count == events * repeat, (exporter.count, events * repeat)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    ours = importlib.util.find_spec("eventtracking.records") is not None
    label = "event-tracking-otel" if ours else "original event-tracking"
    figures = {
        f"{label}: seed API, 2 contexts, 1 processor, memory backend": seed_api_scenario(args.events, args.repeat)
    }
    if ours:
        figures.update(otel_native_scenarios(args.events, args.repeat))
    if args.json:
        json.dump(figures, sys.stdout)
        print()
        return
    for name, micros in figures.items():
        print(f"{micros:8.2f} us/emit  {name}")


if __name__ == "__main__":
    main()
