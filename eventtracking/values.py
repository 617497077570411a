"""The one rule for turning event values into what OTel, JSON and baggage can carry.

Events hold whatever the caller passed. Each carrier gets a converted copy:

* ``portable(value)``: JSON-compatible and OTel ``AnyValue``-compatible. Dicts and lists stay
  nested; datetimes become UTC ISO-8601 strings (naive ones are taken as UTC); dates and times
  become ISO strings; ``Decimal``, ``UUID`` and integers beyond 64 bits become strings;
  tuples, sets and frozensets become lists (sets sorted when their items sort); bytes become
  text when they are UTF-8, base64 otherwise; enums become their value; anything else becomes
  ``str(value)`` and is reported as not serializable.
* ``flatten(mapping)``: OTel attributes. Nested dicts become dotted keys, lists of one
  primitive type stay sequences, other lists become JSON text, ``None`` is left out.
* ``encode_baggage_value`` / ``decode_baggage_value``: strings for W3C baggage, lossless for
  JSON values (see the README's configuration reference).
"""

from __future__ import annotations

import base64
import copy
import datetime
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from typing import Any

from eventtracking import diagnostics

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_PRIMITIVES = (str, bool, int, float)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None), datetime.datetime})


def copy_event_value(value: Any) -> Any:
    """Copy the containers a processor could mutate (dicts and lists), share everything else.

    Much cheaper than ``copy.deepcopy`` and enough to keep a caller's data, and sibling
    branches, safe from processors that edit the event in place. Dict and list subclasses
    keep their type.
    """
    kind = type(value)
    if kind is dict:
        out = value.copy()
    elif kind is list:
        return [item if type(item) in _SCALAR_TYPES else copy_event_value(item) for item in value]
    elif isinstance(value, (dict, list)):
        out = copy.copy(value)
        if isinstance(value, list):
            out[:] = [copy_event_value(item) for item in value]
            return out
    else:
        return value
    for key, item in out.items():
        if type(item) not in _SCALAR_TYPES and isinstance(item, (dict, list)):
            out[key] = copy_event_value(item)
    return out


def has_containers(mapping: Mapping[str, Any]) -> bool:
    """True when a shallow copy of ``mapping`` would share a mutable container."""
    return any(type(value) in (dict, list) for value in mapping.values())


def to_utc_isoformat(value: datetime.datetime) -> str:
    """ISO-8601 in UTC; naive datetimes are taken to be UTC already, as the original did."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    else:
        value = value.astimezone(datetime.UTC)
    return value.isoformat()


# The scalar types the rule converts; anything else falls back to str(value), as "not serializable".
CONVERTED_SCALARS = (
    enum.Enum,
    datetime.date,
    datetime.time,
    bool,
    int,
    float,
    str,
    decimal.Decimal,
    uuid.UUID,
    bytes,
    bytearray,
    memoryview,
)


def _portable_scalar(value: Any, path: str) -> Any:
    if not isinstance(value, CONVERTED_SCALARS):
        diagnostics.warn(
            "not_serializable",
            path,
            "Event value at %r is a %s, which is not serializable; it is recorded as str(value).",
            path,
            type(value).__name__,
        )
        return str(value)
    if isinstance(value, enum.Enum):
        return portable(value.value, path)
    if isinstance(value, datetime.datetime):
        return to_utc_isoformat(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return portable(int(value), path)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raw = bytes(value)  # bytes, bytearray, memoryview: the rest of CONVERTED_SCALARS
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")


def portable(value: Any, path: str = "") -> Any:
    """Convert ``value`` to plain JSON types by the rule in this module's docstring."""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
    if isinstance(value, Mapping):
        return {str(key): portable(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [portable(item, f"{path}[]") for item in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    return _portable_scalar(value, path)


def _flatten_into(out: dict[str, Any], prefix: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten_into(out, f"{prefix}.{key}" if prefix else str(key), item)
        return
    value = portable(value, prefix)
    if isinstance(value, list):
        kinds = {type(item) for item in value}
        if len(kinds) <= 1 and kinds <= set(_PRIMITIVES):
            out[prefix] = tuple(value)
        else:
            out[prefix] = json.dumps(value, separators=(",", ":"), sort_keys=True)
        return
    if isinstance(value, dict):  # an enum whose value is a mapping
        _flatten_into(out, prefix, value)
        return
    out[prefix] = value


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """OTel attributes for ``mapping``: dotted keys, primitive values or sequences of one type."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        _flatten_into(out, f"{prefix}{key}", value)
    return out


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def encode_baggage_value(value: Any) -> str:
    """A baggage string for a context value.

    Strings travel as they are, unless the text would itself read as JSON (``"10"``,
    ``"true"``, ``"null"``): those, and every non-string value, travel as JSON text.
    ``decode_baggage_value`` reverses it exactly for JSON values.
    """
    if isinstance(value, str) and not _parses_as_json(value):
        return value
    return json.dumps(portable(value), separators=(",", ":"), sort_keys=True)


def decode_baggage_value(text: str) -> Any:
    """The context value that ``encode_baggage_value`` turned into ``text``."""
    try:
        return json.loads(text)
    except ValueError:
        return text
