"""The JSON Schema (draft 2020-12) of the event envelope, shipped with the package.

``event_schema()`` returns it as a dict, for any validator (``jsonschema``, a data pipeline's own).
It describes an event as exporters write it: ``name``, ``timestamp`` (UTC ISO-8601), the optional
``name_id`` and ``context_type_id``, ``context`` and ``data``; metadata records
(``eventtracking.metadata``) must carry the metadata in ``data``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_FILE", "event_schema"]

SCHEMA_FILE = "event.schema.json"


@functools.cache
def _schema_text() -> str:
    return resources.files(__name__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def event_schema() -> dict[str, Any]:
    """The event envelope schema (a fresh copy: callers may change it)."""
    return json.loads(_schema_text())
