"""The original ``SegmentBackend``: each event as a Segment ``track`` call, queued on the emitting thread.

A face over ``eventtracking.exporters.segment``: the same mapping (``track_call``; events without
a name or ``context.user_id`` are skipped and counted, metadata records are not sent), with the
original's two ways to reach Segment:

* ``SegmentBackend()`` uses the module-level ``segment.analytics`` client, which other code
  initializes (``segment.analytics.write_key = ...``, ``host``...), as the original assumed;
  until a write key is set there, events are skipped with a warning, and without the
  ``segment`` extra installed they are skipped too, as the original did;
* ``SegmentBackend(write_key=..., host=..., **client_options)`` owns its client, as
  ``SegmentLogExporter`` does.

The client posts from its own thread, so ``send`` only queues. When the client's queue is full
the event is dropped, counted and logged: the caller's thread never waits.
"""

from __future__ import annotations

from typing import Any

from eventtracking.exporters.segment import SegmentLogExporter, analytics, enqueue, skip_metadata, wait_for_delivery

from eventtracking import diagnostics
from eventtracking.exceptions import ImproperlyConfigured

__all__ = ["SegmentBackend"]


class SegmentBackend:
    """Send events to segment.com (``write_key``, ``host`` and client options, or the module-level client)."""

    def __init__(self, write_key: str | None = None, host: str | None = None, **client_options: Any) -> None:
        if write_key is None and (host is not None or client_options):
            raise ImproperlyConfigured(
                "SegmentBackend: host and client options need a write_key; without one the module-level"
                " segment.analytics client is used as it is configured."
            )
        self.exporter = SegmentLogExporter(write_key, host, **client_options) if write_key is not None else None

    def _target(self) -> Any:
        if self.exporter is not None:
            return self.exporter.client
        if analytics is None or not analytics.write_key:
            diagnostics.warn(
                "segment_not_configured",
                "",
                "SegmentBackend: segment.analytics has no write_key (or segment-analytics-python is not"
                " installed); events are not sent to Segment.",
            )
            return None
        return analytics

    def send(self, event: dict[str, Any]) -> None:
        """Queue the event for Segment (metadata records are not events: never sent)."""
        if skip_metadata(event):
            return
        target = self._target()
        if target is not None and not enqueue(target, event):
            diagnostics.count("dropped.SegmentBackend")
            diagnostics.warn(
                "dropped", "SegmentBackend", "Dropped event %r: the Segment client's queue is full.", event.get("name")
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until the client has posted what it was given, for at most ``timeout_millis``."""
        if self.exporter is not None:
            return self.exporter.force_flush(timeout_millis)
        client = getattr(analytics, "default_client", None)
        return client is None or wait_for_delivery(client, timeout_millis / 1000)

    def shutdown(self) -> None:
        """Stop the client this backend owns; the module-level client belongs to the application."""
        if self.exporter is not None:
            self.exporter.shutdown()
