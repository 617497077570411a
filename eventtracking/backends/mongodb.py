"""The original ``MongoBackend``: events into a MongoDB collection, now batched off the caller's thread.

A face over ``eventtracking.exporters.mongodb.MongoLogExporter`` behind an ``EventBatchProcessor``:
the seed inserted each event on the emitting thread, with unacknowledged writes (``w=0``) that
lost events silently; this one buffers them (bounded), inserts them in unordered batches with
acknowledged writes (``w=1``; ``extra={"w": 0}`` still works) and retries while the server is
down. Its options are the seed's (``host``, ``port``, ``user``, ``password``, ``database``,
``collection``, ``extra``), plus the exporter's ``uri``, ``w`` and ``metadata_collection`` (where
the metadata of registered event types goes, see the exporter) and the buffer's
``max_queue_size``, ``max_export_batch_size``, ``schedule_delay_millis``,
``retry_max_backoff_seconds`` and ``retry_timeout_seconds``.
"""

from __future__ import annotations

from typing import Any

from eventtracking.exporters.mongodb import MongoLogExporter

from eventtracking.batching import EventBatchProcessor
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.records import record_for
from eventtracking.values import copy_event_value

_EXPORTER_OPTIONS = frozenset(
    {"host", "port", "user", "password", "database", "collection", "metadata_collection", "extra", "uri", "w"}
)
_BUFFER_OPTIONS = frozenset(
    {
        "max_queue_size",
        "max_export_batch_size",
        "schedule_delay_millis",
        "retry_max_backoff_seconds",
        "retry_timeout_seconds",
    }
)


class MongoBackend(EventBatchProcessor):
    """Event tracker backend that stores each event as a MongoDB document (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - _EXPORTER_OPTIONS - _BUFFER_OPTIONS)
        if unknown:
            known = ", ".join(sorted(_EXPORTER_OPTIONS | _BUFFER_OPTIONS))
            raise ImproperlyConfigured(f"MongoBackend: unknown option(s) {', '.join(unknown)}; known: {known}.")
        exporter = MongoLogExporter(**{name: kwargs[name] for name in _EXPORTER_OPTIONS & kwargs.keys()})
        super().__init__(exporter, **{name: kwargs[name] for name in _BUFFER_OPTIONS & kwargs.keys()})
        self.connection = exporter.client
        self.database = exporter.database
        self.collection = exporter.collection
        self.metadata_collection = exporter.metadata_collection

    def send(self, event: dict[str, Any]) -> None:
        """Queue the event for the next batch (a copy: later changes by the caller are not stored)."""
        self.on_emit(record_for(copy_event_value(event)))
