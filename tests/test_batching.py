"""EventBatchProcessor: off-thread export, retries within a bounded buffer, counted drops, flush."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from eventtracking import diagnostics
from eventtracking.batching import EventBatchProcessor
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.records import event_of


class FlakyExporter(LogRecordExporter):
    """Fails while ``down`` is set, remembers what it exported and on which thread."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.names: list[str] = []
        self.threads: set[int] = set()
        self.attempts = 0

    def export(self, batch):
        self.attempts += 1
        if self.down.is_set():
            raise ConnectionError("backend down")
        self.threads.add(threading.get_ident())
        self.names.extend(event_of(record)["name"] for record in batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


def test_exports_in_batches_off_the_callers_thread(make_tracker):
    exporter = FlakyExporter()
    tracker = make_tracker(backends={"e": EventBatchProcessor(exporter, max_export_batch_size=10)})
    for index in range(25):
        tracker.emit(f"e{index}", {})
    assert tracker.flush(5000)
    assert exporter.names == [f"e{index}" for index in range(25)]
    assert threading.get_ident() not in exporter.threads


def test_a_down_backend_does_not_block_and_gets_everything_when_back(make_tracker, caplog):
    exporter = FlakyExporter()
    exporter.down.set()
    processor = EventBatchProcessor(exporter, schedule_delay_millis=10, retry_max_backoff_seconds=0.05)
    tracker = make_tracker(backends={"e": processor})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="eventtracking.batching"):
        for index in range(100):
            tracker.emit(f"e{index}", {})
        assert time.monotonic() - started < 2
        assert not tracker.flush(300)
        exporter.down.clear()
        assert tracker.flush(5000)
    assert exporter.names == [f"e{index}" for index in range(100)]
    assert "FlakyExporter is failing; retrying" in caplog.text
    assert "FlakyExporter recovered" in caplog.text


def test_overflow_is_counted_and_logged(make_tracker, caplog):
    exporter = FlakyExporter()
    exporter.down.set()
    processor = EventBatchProcessor(exporter, max_queue_size=5, max_export_batch_size=5, retry_max_backoff_seconds=0.05)
    tracker = make_tracker(backends={"e": processor})
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        for index in range(12):
            tracker.emit(f"e{index}", {})
        time.sleep(0.2)
    exporter.down.clear()
    assert tracker.flush(5000)
    dropped = diagnostics.counts()["dropped.FlakyExporter"]
    assert dropped >= 1
    assert len(exporter.names) + dropped == 12
    assert "Dropped 1 event(s) for FlakyExporter: the buffer is full" in caplog.text


def test_retry_timeout_gives_up_with_a_count(caplog):
    exporter = FlakyExporter()
    exporter.down.set()
    processor = EventBatchProcessor(exporter, retry_timeout_seconds=0.2, retry_max_backoff_seconds=0.05)
    processor.on_emit(_record("lost"))
    with caplog.at_level(logging.WARNING, logger="eventtracking"):
        assert processor.force_flush(3000)
    assert diagnostics.counts()["dropped.FlakyExporter"] == 1
    assert "its exporter kept failing" in caplog.text
    processor.shutdown()


def test_shutdown_exports_what_is_buffered_and_counts_what_it_cannot():
    exporter = FlakyExporter()
    processor = EventBatchProcessor(exporter, schedule_delay_millis=60000)
    processor.on_emit(_record("kept"))
    processor.shutdown()
    assert exporter.names == ["kept"]

    down = FlakyExporter()
    down.down.set()
    stuck = EventBatchProcessor(down, retry_max_backoff_seconds=0.05)
    stuck.on_emit(_record("lost"))
    stuck.shutdown(timeout_millis=300)
    assert diagnostics.counts()["dropped.FlakyExporter"] == 1
    stuck.on_emit(_record("after"))
    assert diagnostics.counts()["dropped.FlakyExporter"] == 2


@pytest.mark.parametrize("kwargs", [{"max_queue_size": 0}, {"schedule_delay_millis": "soon"}])
def test_bad_settings_fail_at_construction(kwargs):
    with pytest.raises(ImproperlyConfigured):
        EventBatchProcessor(FlakyExporter(), **kwargs)


def test_bad_environment_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("EVENTTRACKING_BUFFER_SIZE", "lots")
    with pytest.raises(ImproperlyConfigured, match="EVENTTRACKING_BUFFER_SIZE"):
        EventBatchProcessor(FlakyExporter())


def _record(name):
    from eventtracking.records import record_for

    return record_for({"name": name, "data": {}, "context": {}})
