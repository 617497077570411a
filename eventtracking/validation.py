"""The checks ``emit`` runs on events against their registration, as the original design lists them.

Five conditions, each logged as a warning that names the event type and the field, at most once
per (condition, event type) per ``EVENTTRACKING_WARNING_INTERVAL``, and counted in
``eventtracking.diagnostics.counts()`` under its condition name:

* ``unregistered_event_type``: the tracker has registered event types, and this is not one of them;
* ``unregistered_field``: a top-level ``data`` field the registration does not describe;
* ``missing_field``: a described field the event does not have;
* ``unserializable_field``: a value the value rule (``eventtracking.values``) can only record as
  ``str(value)``;
* ``event_too_large``: the event, serialized as compact UTF-8 JSON, is over
  ``EVENTTRACKING_MAX_EVENT_SIZE`` bytes (default 32768, Segment's limit per event; 0 for none).

The event is recorded all the same. ``EVENTTRACKING_VALIDATE`` chooses what is checked:
``registered`` (default) checks events of registered types, and warns about unregistered types
once the tracker has registered any; ``all`` also checks the values and size of unregistered
events and warns about them even when nothing is registered; ``off`` checks nothing. In strict
mode (``Tracker(strict=True)`` or ``EVENTTRACKING_STRICT=true``, for tests) a failed check
raises ``InvalidEvent`` from ``emit`` instead, and the event is not recorded.

The serializability and size checks walk the event once, computing an upper bound of its JSON
size without serializing it; only an event whose bound is over the limit is serialized.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from eventtracking import config, diagnostics, values
from eventtracking.registry import Metadata

__all__ = ["ALL", "MODES", "OFF", "REGISTERED", "EventValidator", "InvalidEvent"]

REGISTERED = "registered"
ALL = "all"
OFF = "off"
MODES = (REGISTERED, ALL, OFF)
DEFAULT_MAX_EVENT_SIZE = 32768

# Longest JSON text of scalars: a 64-bit int, a float repr, a date/time in ISO-8601 with quotes.
_INT_BOUND = 20
_FLOAT_BOUND = 24
_MOMENT_BOUND = 40
# A character costs at most 6 bytes in JSON (\u00XX escapes); UTF-8 needs at most 4.
_CHAR_BOUND = 6
# The envelope around data and context: keys, a timestamp, two 16-digit ids, punctuation.
_ENVELOPE_BOUND = 160


# (condition, message, arguments) of one failed check.
Problem = tuple[str, str, tuple[Any, ...]]


class InvalidEvent(ValueError):
    """An event failed a check of its registration; raised by ``emit`` only in strict mode."""


class _NotPortable(Exception):
    pass


_INT64 = range(-(2**63), 2**63)
# The longest JSON text of fixed-size scalars (a float repr, an ISO-8601 date-time with quotes).
_FIXED_BOUNDS = {
    int: _INT_BOUND,
    float: _FLOAT_BOUND,
    bool: 5,
    type(None): 4,
    datetime.datetime: _MOMENT_BOUND,
    datetime.date: _MOMENT_BOUND,
    datetime.time: _MOMENT_BOUND,
}


def _bound(value: Any) -> int:
    """An upper bound of the UTF-8 length of ``value`` as JSON by the value rule; raises ``_NotPortable``.

    It runs on every checked event, so dicts of strings and numbers (the usual event) are
    handled inline, without a call per value.
    """
    kind = type(value)
    if kind is str:
        return _CHAR_BOUND * len(value) + 2
    if kind is dict:
        total = 2
        for key, item in value.items():
            total += _CHAR_BOUND * len(key) + 4 if type(key) is str else _bound(str(key)) + 2
            item_kind = type(item)
            if item_kind is str:
                total += _CHAR_BOUND * len(item) + 2
            elif item_kind is float or (item_kind is int and item in _INT64):
                total += _INT_BOUND if item_kind is int else _FLOAT_BOUND
            else:
                total += _bound(item)
        return total
    fixed = _FIXED_BOUNDS.get(kind)
    if fixed is not None and (kind is not int or value in _INT64):
        return fixed
    if isinstance(value, (list, tuple, set, frozenset)):
        return 2 + sum(_bound(item) + 1 for item in value)
    if isinstance(value, Mapping):
        return _bound(dict(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return _MOMENT_BOUND
    if isinstance(value, values.CONVERTED_SCALARS):
        return _bound(values.portable(value))
    raise _NotPortable


def _json_default(value: Any) -> Any:
    if isinstance(value, values.CONVERTED_SCALARS):
        return values.portable(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    return str(value)


def serialized_size(value: Any) -> int:
    """The UTF-8 length of ``value`` as compact JSON, non-serializable values counted as ``str(value)``.

    A value JSON cannot encode as it is (keys that are not strings, a cycle) gets its upper bound instead.
    """
    try:
        text = json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):  # keys JSON cannot carry, or a cycle
        return _bound(values.portable(value))
    return len(text.encode("utf-8"))


def _unserializable(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, type name) of each top-level data field, or context key, that is not serializable."""
    found = []
    for section in ("data", "context"):
        items = event.get(section)
        if not isinstance(items, Mapping):
            items = {section: items}
        for key, item in items.items():
            try:
                _bound(item)
            except _NotPortable:
                label = key if section == "data" else f"context.{key}"
                found.append((label, _leaf_type(item)))
    return found


def _leaf_type(value: Any) -> str:
    """The type name of the first value in ``value`` that is not serializable."""
    children: Any = ()
    if isinstance(value, Mapping):
        children = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = value
    for child in children:
        try:
            _bound(child)
        except _NotPortable:
            return _leaf_type(child)
    return type(value).__name__


def _field_problems(problems: list[Problem], name: str, data: Mapping[str, Any], metadata: Metadata) -> None:
    described = metadata.field_names
    extra = [str(key) for key in data if key not in described]
    if extra:
        problems.append(
            (
                "unregistered_field",
                "Event %r has field(s) %s that its registration (name_id %s) does not describe; recorded as given.",
                (name, ", ".join(extra), metadata.id),
            )
        )
    missing = [key for key in metadata.fields if key not in data]
    if missing:
        problems.append(
            (
                "missing_field",
                "Event %r lacks the registered field(s) %s (name_id %s); recorded without them.",
                (name, ", ".join(missing), metadata.id),
            )
        )


class EventValidator:
    """Runs the five checks on an event and reports what fails (see the module docstring)."""

    def __init__(self, *, strict: bool | None = None, mode: str | None = None, max_size: int | None = None) -> None:
        self.strict = config.boolean(config.STRICT, False) if strict is None else bool(strict)
        self.mode = config.choice(config.VALIDATE, REGISTERED, MODES) if mode is None else mode
        if self.mode not in MODES:
            raise ValueError(f"Validation mode {self.mode!r}; use one of {MODES}.")
        if max_size is None:
            max_size = int(config.number(config.MAX_EVENT_SIZE, DEFAULT_MAX_EVENT_SIZE, integer=True))
        self.max_size = max_size

    def check(self, event: dict[str, Any], metadata: Metadata | None, *, types_registered: bool) -> None:
        """Check ``event`` (of the type ``metadata`` documents, if registered); warn, or raise when strict."""
        if self.mode == OFF:
            return
        name = event["name"]
        problems: list[Problem] = []
        if metadata is None:
            if types_registered or self.mode == ALL:
                problems.append(
                    ("unregistered_event_type", "Event type %r is not registered; recorded without a name_id.", (name,))
                )
            if self.mode != ALL:
                if problems:
                    self._report(name, problems)
                return
        else:
            data = event["data"]
            if isinstance(data, Mapping) and data.keys() != metadata.field_names:
                _field_problems(problems, name, data, metadata)
        self._value_problems(problems, name, event)
        if problems:
            self._report(name, problems)

    def _value_problems(self, problems: list[Problem], name: str, event: dict[str, Any]) -> None:
        try:
            # The envelope's other members (name, timestamp, ids) are short; _ENVELOPE_BOUND covers them.
            size = _ENVELOPE_BOUND + _CHAR_BOUND * len(name) + _bound(event["data"]) + _bound(event["context"])
        except _NotPortable:
            for field, kind in _unserializable(event):
                problems.append(
                    (
                        "unserializable_field",
                        "Event %r: field %r holds a %s, which is not serializable; recorded as str(value).",
                        (name, field, kind),
                    )
                )
            size = None
        limit = self.max_size
        if limit and (size is None or size > limit):
            size = serialized_size(event)
            if size > limit:
                data = event["data"]
                sizes = {key: serialized_size(item) for key, item in data.items()} if isinstance(data, Mapping) else {}
                largest = max(sizes, key=sizes.__getitem__, default="data")
                problems.append(
                    (
                        "event_too_large",
                        "Event %r is %d bytes serialized, over %s=%d; its largest field is %r (%d bytes). "
                        "Recorded as is.",
                        (name, size, config.MAX_EVENT_SIZE, limit, largest, sizes.get(largest, size)),
                    )
                )

    def _report(self, name: str, problems: list[Problem]) -> None:
        if self.strict:
            for condition, _, _ in problems:
                diagnostics.count(condition)
            raise InvalidEvent(" ".join(message % args for _, message, args in problems))
        for condition, message, args in problems:
            diagnostics.warn(condition, name, message, *args)
