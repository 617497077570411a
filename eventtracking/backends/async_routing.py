"""The original ``AsyncRoutingBackend``: process here, deliver to the nested backends in a Celery worker.

Its processors run on the emitting thread (an ``EventEmissionExit`` drops the event before it
is enqueued); the processed event then goes to the ``eventtracking.tasks.send_event`` task,
whose worker delivers it to the nested backends of the backend named ``backend_name`` in its
own default tracker (see ``eventtracking.tasks`` for retries and the wire format). So, as in the
original, it must be a top-level backend of the default tracker, configured the same way in the
producing processes and in the workers.

When the event cannot be enqueued (the broker is down, the task cannot be published), ``emit``
does not fail: the error is logged (rate-limited) and counted as ``async_enqueue_error``, and
the event is delivered to the nested backends synchronously on the emitting thread, unless
``sync_fallback=False``, in which case it is dropped and counted as ``async_enqueue_dropped``.
Publishing to a broker that is down blocks for as long as Celery's connection retries allow
(``broker_connection_timeout``, ``broker_transport_options``), so after a failure the broker is
left alone for ``enqueue_retry_seconds`` (default 5): events in that pause go straight to the
fallback, counted as ``async_enqueue_skipped``.

Metadata records (``eventtracking.registry.is_metadata``) go around the processors, as in every
router (``RoutingBackend.processed``), and are enqueued like events: a filter meant for events
never keeps the documentation of those events from the nested backends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from eventtracking import diagnostics, records
from eventtracking.backends.routing import RoutingBackend
from eventtracking.routing import Processor
from eventtracking.tasks import encode_event, send_event

LOG = logging.getLogger(__name__)


class AsyncRoutingBackend(RoutingBackend):
    """Route events to the nested ``backends`` through Celery, after running ``processors``."""

    def __init__(
        self,
        processors: Iterable[Processor] | None = None,
        backends: Mapping[str, Any] | None = None,
        backend_name: str = "",
        sync_fallback: bool = True,
        enqueue_retry_seconds: float = 5.0,
    ) -> None:
        self.backend_name = backend_name
        self.sync_fallback = sync_fallback
        self.enqueue_retry_seconds = enqueue_retry_seconds
        self._broker_retry_at = 0.0
        super().__init__(processors=processors, backends=backends)

    def send(self, event: dict[str, Any]) -> None:
        """Process the event (a metadata record goes around the processors), then enqueue it; never raises."""
        processed = self._processed(event) if self.processors else event
        if processed is None:
            LOG.debug("[EventEmissionExit] skipping event %r", event.get("name"))
            return
        if time.monotonic() < self._broker_retry_at:
            diagnostics.count("async_enqueue_skipped")
            self._fall_back(processed)
            return
        try:
            send_event.delay(self.backend_name, encode_event(processed))
        except Exception as error:
            self._broker_retry_at = time.monotonic() + self.enqueue_retry_seconds
            self._enqueue_failed(processed, error)

    def route_record(self, record: records.EventLogRecord) -> None:
        """As a LogRecordProcessor, enqueue as well: delivery never happens on the emitting thread."""
        self.send(record.event)

    def _enqueue_failed(self, event: dict[str, Any], error: Exception) -> None:
        diagnostics.warn(
            "async_enqueue_error",
            self.backend_name,
            "AsyncRoutingBackend %r could not enqueue event %r (%s: %s); %s (and the events of the next %s seconds).",
            self.backend_name,
            event.get("name"),
            type(error).__name__,
            error,
            "delivering it synchronously" if self.sync_fallback else "dropping it",
            self.enqueue_retry_seconds,
        )
        self._fall_back(event)

    def _fall_back(self, event: dict[str, Any]) -> None:
        if self.sync_fallback:
            self.send_to_backends(event)
        else:
            diagnostics.count("async_enqueue_dropped")
