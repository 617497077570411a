"""A batching LogRecordProcessor that keeps events while their exporter is down.

``on_emit`` only appends to a bounded in-memory buffer (no copy, no lock in the common case),
so the caller pays well under a microsecond. A worker thread exports batches; a batch that
fails (the exporter returns FAILURE or raises) is retried with exponential backoff, in order,
until it succeeds or has failed for ``retry_timeout_seconds``. While it waits, new events
queue up to ``max_queue_size``; what does not fit, and what a retry timeout or shutdown gives
up on, is counted (``eventtracking.diagnostics``) and logged. ``force_flush`` waits for
everything emitted before the call.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from eventtracking import config, diagnostics
from eventtracking.exceptions import ImproperlyConfigured

LOG = logging.getLogger("eventtracking.batching")

_INITIAL_BACKOFF_SECONDS = 0.1


def _setting(name: str, value: float | None, env_name: str, default: float, *, integer: bool, minimum: float) -> float:
    """An explicit argument, else the environment variable, else the default; validated."""
    if value is None:
        return config.number(env_name, default, minimum=minimum, integer=integer)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < minimum:
        raise ImproperlyConfigured(f"EventBatchProcessor: {name}={value!r} must be a number of at least {minimum}.")
    return value


class EventBatchProcessor(LogRecordProcessor):
    """Export records in batches on a worker thread, retrying failures within a bounded buffer."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        schedule_delay_millis: float | None = None,
        retry_max_backoff_seconds: float | None = None,
        retry_timeout_seconds: float | None = None,
    ) -> None:
        if not callable(getattr(exporter, "export", None)):
            raise ImproperlyConfigured(f"{exporter!r} is not a log exporter: it has no export() method.")
        self.exporter = exporter
        self._max_queue_size = int(
            _setting("max_queue_size", max_queue_size, config.BUFFER_SIZE, 10000, integer=True, minimum=1)
        )
        self._batch_size = int(
            _setting("max_export_batch_size", max_export_batch_size, config.BATCH_SIZE, 512, integer=True, minimum=1)
        )
        self._delay = (
            _setting(
                "schedule_delay_millis",
                schedule_delay_millis,
                config.SCHEDULE_DELAY_MILLIS,
                500,
                integer=False,
                minimum=1,
            )
            / 1000
        )
        self._max_backoff = _setting(
            "retry_max_backoff_seconds",
            retry_max_backoff_seconds,
            config.RETRY_MAX_BACKOFF_SECONDS,
            30,
            integer=False,
            minimum=0.01,
        )
        self._retry_timeout = _setting(
            "retry_timeout_seconds", retry_timeout_seconds, config.RETRY_TIMEOUT_SECONDS, 600, integer=False, minimum=0
        )
        self._name = type(exporter).__name__
        self._init_state()
        weak_self = weakref.ref(self)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: (ref := weak_self()) and ref._init_state())
        atexit.register(lambda: (ref := weak_self()) and ref.shutdown())

    def _init_state(self) -> None:
        self._queue: deque[Any] = deque()
        self._in_flight: Sequence[Any] = ()
        self._done = 0
        self._wanted = 0
        self._shutdown = False
        self._give_up_at: float | None = None
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._run, name=f"eventtracking-{self._name}", daemon=True)
        self._worker.start()

    def on_emit(self, log_record: Any) -> None:
        queue = self._queue
        if self._shutdown or len(queue) >= self._max_queue_size:
            self._dropped(1, "the processor is shut down" if self._shutdown else "the buffer is full")
            return
        queue.append(log_record)
        if len(queue) == self._batch_size:
            with self._cond:
                self._cond.notify_all()

    def _dropped(self, amount: int, reason: str) -> None:
        diagnostics.count(f"dropped.{self._name}", amount)
        diagnostics.warn(
            "dropped",
            f"{self._name}:{reason}",
            "Dropped %d event(s) for %s: %s (size the buffer with EVENTTRACKING_BUFFER_SIZE).",
            amount,
            self._name,
            reason,
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._shutdown and self._wanted <= self._done and len(self._queue) < self._batch_size:
                    self._cond.wait(self._delay)
                if self._shutdown and not self._queue:
                    return
            self._drain()

    def _drain(self) -> None:
        while self._queue:
            batch = []
            with self._cond:
                while self._queue and len(batch) < self._batch_size:
                    batch.append(self._queue.popleft())
                self._in_flight = batch
            self._export_with_retry(batch)
            with self._cond:
                self._in_flight = ()
                self._done += len(batch)
                self._cond.notify_all()

    def _export_once(self, batch: Sequence[Any]) -> bool:
        try:
            with suppress_instrumentation():
                result = self.exporter.export(batch)
        except Exception:
            diagnostics.count(f"export_error.{self._name}")
            LOG.warning("%s failed to export %d event(s)", self._name, len(batch), exc_info=True)
            return False
        return result is None or result == LogRecordExportResult.SUCCESS

    def _export_with_retry(self, batch: Sequence[Any]) -> None:
        backoff = _INITIAL_BACKOFF_SECONDS
        failing_since: float | None = None
        while not self._export_once(batch):
            now = time.monotonic()
            if failing_since is None:
                failing_since = now
                LOG.warning(
                    "%s is failing; retrying with %d event(s) buffered", self._name, len(self._queue) + len(batch)
                )
            gave_up = (self._retry_timeout and now - failing_since >= self._retry_timeout) or (
                self._give_up_at is not None and now >= self._give_up_at
            )
            if gave_up:
                self._dropped(len(batch), "its exporter kept failing")
                return
            with self._cond:
                self._cond.wait(min(backoff, self._give_up_at - now) if self._give_up_at else backoff)
            backoff = min(backoff * 2, self._max_backoff)
        if failing_since is not None:
            LOG.warning("%s recovered after %.1f s", self._name, time.monotonic() - failing_since)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until every record emitted before this call is exported (or given up)."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            target = self._done + len(self._queue) + len(self._in_flight)
            self._wanted = max(self._wanted, target)
            self._cond.notify_all()
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._worker.is_alive():
                    return False
                self._cond.wait(remaining)
        flushed = getattr(self.exporter, "force_flush", None)
        return bool(flushed(timeout_millis)) if callable(flushed) else True

    def shutdown(self, timeout_millis: int = 10000) -> None:
        """Export what is buffered (retrying for at most ``timeout_millis``), then stop."""
        with self._cond:
            if self._shutdown:
                return
            self._shutdown = True
            self._give_up_at = time.monotonic() + timeout_millis / 1000
            self._cond.notify_all()
        self._worker.join(timeout_millis / 1000 + 1)
        left = len(self._queue) + len(self._in_flight)
        if left:
            self._dropped(left, "it was shut down before they could be exported")
        stop = getattr(self.exporter, "shutdown", None)
        if callable(stop):
            stop()
