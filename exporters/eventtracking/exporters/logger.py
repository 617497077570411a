"""Write events to a Python logger, one JSON line each (entry point ``eventtracking_logger``).

The line is the event dict serialized with ``DateTimeJSONEncoder``: datetimes in UTC ISO-8601,
other values by the portable rule of ``eventtracking.values``. An event longer than
``max_event_size`` characters is never dropped silently: by default (``on_oversize="truncate"``)
it is written with its ``data`` replaced by ``{"eventtracking_truncated": true,
"original_size": N}`` and a warning is logged; with ``on_oversize="drop"`` it is dropped with a
warning. Both are counted in ``eventtracking.diagnostics``. Metadata records
(``eventtracking.metadata``, the documentation of an event type or a context, written once per
process) are never cut: they are written whole whatever their size.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from eventtracking import config, diagnostics, values
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.records import event_of
from eventtracking.registry import is_metadata

DEFAULT_LOGGER_NAME = "eventtracking.events"
MAX_EVENT_SIZE = 1024
_POLICIES = ("truncate", "drop")


class DateTimeJSONEncoder(json.JSONEncoder):
    """JSON encoder for events: datetimes in UTC ISO-8601 (naive ones taken as UTC), dates in ISO.

    Other values JSON cannot carry follow ``eventtracking.values.portable`` instead of failing.
    """

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return values.to_utc_isoformat(o)
        if isinstance(o, datetime.date):
            return o.isoformat()
        return values.portable(o)


def _write_to_file(event_logger: logging.Logger, path: str) -> None:
    """Send ``event_logger``'s lines, bare, to ``path`` (once per path), and nowhere else."""
    target = os.path.abspath(path)
    if not any(getattr(handler, "baseFilename", None) == target for handler in event_logger.handlers):
        try:
            handler = logging.FileHandler(target, encoding="utf-8")
        except OSError as error:
            raise ImproperlyConfigured(f"Logger exporter: cannot write events to {path!r}: {error}") from error
        handler.setFormatter(logging.Formatter("%(message)s"))
        event_logger.addHandler(handler)
    event_logger.propagate = False


def _level(level: str | int) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise ImproperlyConfigured(f"Logger exporter: {level!r} is not a logging level (debug, info, warning, ...).")
    return number


class LoggingLogExporter(LogRecordExporter):
    """An OTel log exporter that logs each event as a JSON line.

    ``name`` is the logger (``EVENTTRACKING_LOGGER_NAME``, default ``eventtracking.events``),
    ``level`` its level (``EVENTTRACKING_LOGGER_LEVEL``, default ``info``), ``max_event_size``
    the longest line in characters (``EVENTTRACKING_LOGGER_MAX_EVENT_SIZE``, default 1024,
    ``None`` or 0 for no limit). With ``file`` (``EVENTTRACKING_LOGGER_FILE``) the lines go to
    that file (one JSON object per line, nothing else) instead of propagating to the application's
    handlers. Log records that are not events (no ``event_name``) are skipped.
    """

    def __init__(
        self,
        name: str | None = None,
        level: str | int | None = None,
        max_event_size: int | None = -1,
        on_oversize: str = "truncate",
        file: str | None = None,
    ) -> None:
        if on_oversize not in _POLICIES:
            raise ImproperlyConfigured(f"Logger exporter: on_oversize={on_oversize!r}; use one of {_POLICIES}.")
        if max_event_size == -1:
            max_event_size = int(config.number(config.LOGGER_MAX_EVENT_SIZE, MAX_EVENT_SIZE, integer=True))
        if max_event_size is not None and (not isinstance(max_event_size, int) or max_event_size < 0):
            raise ImproperlyConfigured(
                f"Logger exporter: max_event_size={max_event_size!r} must be a positive integer."
            )
        self.max_event_size = max_event_size or None
        self.on_oversize = on_oversize
        self.event_logger = logging.getLogger(
            name if name is not None else config.text(config.LOGGER_NAME, DEFAULT_LOGGER_NAME)
        )
        self.level = _level(level if level is not None else config.text(config.LOGGER_LEVEL, "info"))
        if self.event_logger.level == logging.NOTSET:
            # The root logger's default WARNING would otherwise swallow INFO lines.
            self.event_logger.setLevel(self.level)
        file = file if file is not None else config.text(config.LOGGER_FILE, "")
        if file:
            _write_to_file(self.event_logger, file)
        self._checked_handlers = False

    def serialize(self, event: Any) -> str:
        """The JSON line for ``event``."""
        try:
            return json.dumps(event, cls=DateTimeJSONEncoder)
        except (TypeError, ValueError, RecursionError):
            return json.dumps(values.portable(event), cls=DateTimeJSONEncoder)

    def write(self, event: Any) -> None:
        """Log one event now, on this thread."""
        line = self.serialize(event)
        limit = self.max_event_size
        if limit is not None and len(line) > limit and not is_metadata(event):
            line = self._oversize(event, line, limit)
            if line is None:
                return
        if not self._checked_handlers:
            self._checked_handlers = True
            if not self.event_logger.hasHandlers():
                diagnostics.warn(
                    "logger_without_handlers",
                    self.event_logger.name,
                    "Events go to logger %r, which has no handlers: configure logging or set %s.",
                    self.event_logger.name,
                    config.LOGGER_FILE,
                )
        self.event_logger.log(self.level, line)

    def _oversize(self, event: Any, line: str, limit: int) -> str | None:
        name = event.get("name") if isinstance(event, dict) else None
        if self.on_oversize == "truncate" and isinstance(event, dict):
            shortened = self.serialize({**event, "data": {"eventtracking_truncated": True, "original_size": len(line)}})
            if len(shortened) <= limit:
                diagnostics.warn(
                    "oversize_event",
                    name,
                    "Event %r is %d characters, over max_event_size=%d: logged without its data.",
                    name,
                    len(line),
                    limit,
                )
                return shortened
        diagnostics.warn(
            "oversize_event_dropped",
            name,
            "Event %r is %d characters, over max_event_size=%d, even without its data: dropped.",
            name,
            len(line),
            limit,
        )
        return None

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        for record in batch:
            event = event_of(record)
            if event is not None:
                self.write(event)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: the logger's handlers belong to the application."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        for handler in self.event_logger.handlers:
            handler.flush()
        return True
