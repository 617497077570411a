"""Validate events, as an exporter wrote them, against the event schema the package ships.

For any test of the suite: ``assert_valid_event(event)`` takes a decoded JSON line, an OTLP log
body, or a MongoDB document as pymongo returns it (datetimes and ObjectIds are turned into JSON
text first, as ``mongoexport`` would); ``assert_valid_events(events)`` checks each and returns
how many there were, so a test can also assert that it checked something.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema import Draft202012Validator

from eventtracking.schema import event_schema
from eventtracking.values import to_utc_isoformat

VALIDATOR = Draft202012Validator(event_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return to_utc_isoformat(value)
    return str(value)


def schema_errors(event: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``event``, one message per problem (empty when it is valid)."""
    document = json.loads(json.dumps(event, default=_as_json))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(event)'}: {error.message}"
        for error in VALIDATOR.iter_errors(document)
    ]


def logged_events(caplog: Any, logger: str = "eventtracking.events") -> list[dict[str, Any]]:
    """The events the logging exporter wrote to ``logger``, decoded from their JSON lines."""
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == logger]


def assert_valid_event(event: Mapping[str, Any]) -> None:
    errors = schema_errors(event)
    assert not errors, f"event does not match the schema: {errors}\n{event!r}"


def assert_valid_events(events: Iterable[Mapping[str, Any]]) -> int:
    count = 0
    for event in events:
        assert_valid_event(event)
        count += 1
    return count
