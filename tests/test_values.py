"""The one conversion rule: portable values, flat attributes, baggage strings."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid

import pytest

from eventtracking.values import copy_event_value, decode_baggage_value, encode_baggage_value, flatten, portable


class Color(enum.Enum):
    RED = "red"


def test_portable_rule():
    moment = datetime.datetime(2026, 1, 1, 12, 0)
    ident = uuid.UUID(int=1)
    converted = portable(
        {
            "dt": moment,
            "date": datetime.date(2026, 1, 1),
            "dec": decimal.Decimal("1.10"),
            "uuid": ident,
            "big": 2**70,
            "set": {3, 1, 2},
            "tuple": (1, "a"),
            "bytes": b"text",
            "binary": b"\xff\x00",
            "enum": Color.RED,
            1: "int key",
            "nested": {"list": [moment]},
        }
    )
    assert converted == {
        "dt": "2026-01-01T12:00:00+00:00",
        "date": "2026-01-01",
        "dec": "1.10",
        "uuid": str(ident),
        "big": str(2**70),
        "set": [1, 2, 3],
        "tuple": [1, "a"],
        "bytes": "text",
        "binary": "/wA=",
        "enum": "red",
        "1": "int key",
        "nested": {"list": ["2026-01-01T12:00:00+00:00"]},
    }
    json.dumps(converted)


def test_flatten():
    assert flatten({"a": {"b": 1, "c": None}, "l": [1, 2], "mixed": [1, "x"], "objs": [{"k": 1}], "t": True}) == {
        "a.b": 1,
        "l": (1, 2),
        "mixed": '[1,"x"]',
        "objs": '[{"k":1}]',
        "t": True,
    }


@pytest.mark.parametrize(
    "value", ["plain", "10", "true", "null", '"quoted"', "", 10, 1.5, True, None, [1, "a"], {"k": {"n": 1}}]
)
def test_baggage_encoding_round_trips(value):
    assert decode_baggage_value(encode_baggage_value(value)) == value


def test_copy_event_value_copies_containers_only():
    shared = object()
    value = {"list": [{"a": 1}], "obj": shared}
    copied = copy_event_value(value)
    assert copied == value and copied is not value
    assert copied["list"] is not value["list"] and copied["list"][0] is not value["list"][0]
    assert copied["obj"] is shared
