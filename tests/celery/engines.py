"""A backend for the worker that fails a set number of times per event, and writes down every attempt."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from eventtracking.backends.logger import DateTimeJSONEncoder


class FlakyBackend:
    """Fails the first ``failures`` attempts at each event (by ``data["marker"]``), then takes it.

    Every attempt is a JSON line in ``path``: the attempt number, whether it delivered, the type
    of the timestamp as received and the event. Records without a marker (the metadata records
    of registered types) are taken at once, without a line.
    """

    def __init__(self, path: str, failures: int = 0) -> None:
        self.path = Path(path)
        self.failures = failures
        self.attempts: dict[str, int] = {}

    def send(self, event: dict[str, Any]) -> None:
        marker = event["data"].get("marker")
        if marker is None:
            return
        attempt = self.attempts[marker] = self.attempts.get(marker, 0) + 1
        delivered = attempt > self.failures
        timestamp = event["timestamp"]
        line = {
            "marker": marker,
            "attempt": attempt,
            "delivered": delivered,
            "timestamp_type": type(timestamp).__name__,
            "utc_offset": _utc_offset_seconds(timestamp),
            "event": event,
        }
        with self.path.open("a") as out:
            out.write(json.dumps(line, cls=DateTimeJSONEncoder) + "\n")
        if not delivered:
            raise ConnectionError(f"FlakyBackend: attempt {attempt} at {marker} fails")


def _utc_offset_seconds(timestamp: Any) -> float | None:
    """The offset of an aware datetime, None for anything else (a naive datetime, a string)."""
    if isinstance(timestamp, datetime.datetime) and timestamp.utcoffset() is not None:
        return timestamp.utcoffset().total_seconds()
    return None
