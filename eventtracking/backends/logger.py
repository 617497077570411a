"""The original ``LoggerBackend``: each event as a JSON line on a Python logger, synchronously.

A face over ``eventtracking.exporters.logger.LoggingLogExporter``: the same serialization and
the same oversize rule, but called on the emitting thread, so the line is logged before
``emit`` returns, as the original did. Its defaults are the original's: the root logger, level
``info`` and ``max_event_size`` 1024.
"""

from __future__ import annotations

from typing import Any

from eventtracking.exporters.logger import MAX_EVENT_SIZE, DateTimeJSONEncoder, LoggingLogExporter

__all__ = ["MAX_EVENT_SIZE", "DateTimeJSONEncoder", "LoggerBackend"]


class LoggerBackend:
    """Event tracker backend that logs events as JSON strings (``name``, ``level``, ``max_event_size``)."""

    def __init__(self, **kwargs: Any) -> None:
        self.exporter = LoggingLogExporter(
            name=kwargs.get("name") or "",
            level=kwargs.get("level", "info"),
            max_event_size=kwargs.get("max_event_size", MAX_EVENT_SIZE),
            on_oversize=kwargs.get("on_oversize", "truncate"),
        )
        self.event_logger = self.exporter.event_logger
        self.max_event_size = self.exporter.max_event_size

    def send(self, event: dict[str, Any]) -> None:
        """Log the event now."""
        self.exporter.write(event)
