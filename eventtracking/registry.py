"""Event types and described contexts: their metadata, its content-derived id, and the metadata record.

``tracker.register(name, description, field_descriptions)`` records what an event type means, so
that an analyst reading a year-old log can find out. The metadata gets an id derived from its
content (``metadata_id``): the same registration gives the same id in every process and release,
and any change (description or fields) gives a new id, while the old one stays known, as an older
version. Events of a registered type carry ``name_id``, the id in force when they were emitted; a
context entered with a description gets its own metadata (kind ``"context"``) and events emitted
inside carry ``context_type_id``.

Each metadata record travels through the same pipeline as the events, once per tracker, as an
event named ``eventtracking.metadata`` (``METADATA_EVENT_NAME``) whose ``data`` is the metadata
(``metadata_event``), so that every exporter holds it next to the events that refer to it. Event
processors never see these records: they document events, and a filter meant for events must not
drop them. ``is_metadata(event)`` tells them apart; stores that keep metadata separately
(MongoDB) use ``metadata_document`` / ``metadata_upsert``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "CONTEXT",
    "EVENT",
    "METADATA_EVENT_NAME",
    "Metadata",
    "Registry",
    "describe",
    "is_metadata",
    "metadata_document",
    "metadata_event",
    "metadata_from_record",
    "metadata_id",
    "metadata_upsert",
    "registries",
]

METADATA_EVENT_NAME = "eventtracking.metadata"
EVENT = "event"
CONTEXT = "context"
KINDS = (EVENT, CONTEXT)
# 16 hex digits (64 bits): collisions are out of reach for any realistic number of event types.
ID_LENGTH = 16
# Where stores that keep metadata apart from events put it (the MongoDB exporter's default).
DEFAULT_METADATA_COLLECTION = "event_metadata"

_registries: weakref.WeakSet[Registry] = weakref.WeakSet()


def metadata_id(kind: str, name: str, description: str, fields: Mapping[str, str]) -> str:
    """The id of a metadata: a truncated SHA-256 of its canonical JSON (field order does not count)."""
    canonical = json.dumps(
        {"kind": kind, "name": name, "description": description, "fields": dict(sorted(fields.items()))},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_LENGTH]


@dataclass(frozen=True)
class Metadata:
    """One version of the documentation of an event type or a context: what ``name_id`` points to."""

    kind: str
    name: str
    description: str
    fields: Mapping[str, str]
    # Derived from the content unless given: a store gives back the id its events refer to.
    id: str = ""
    field_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "field_names", frozenset(self.fields))
        if not self.id:
            object.__setattr__(self, "id", metadata_id(self.kind, self.name, self.description, self.fields))

    def __hash__(self) -> int:
        return hash(self.id)

    def as_data(self) -> dict[str, Any]:
        """The metadata as plain JSON: fields as a list, so that field names never become store keys."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "description": self.description,
            "fields": [{"name": name, "description": text} for name, text in self.fields.items()],
        }


def describe(
    kind: str,
    name: str,
    description: str | None,
    field_descriptions: Mapping[str, str] | None,
    known_id: str = "",
) -> Metadata:
    """Validated metadata; a wrong argument raises ``TypeError`` or ``ValueError`` where it is registered."""
    if kind not in KINDS:
        raise ValueError(f"Metadata kind {kind!r}; use one of {KINDS}.")
    if not isinstance(name, str) or not name:
        raise ValueError(f"An {kind} type needs a non-empty string name, not {name!r}.")
    if name == METADATA_EVENT_NAME:
        raise ValueError(f"{METADATA_EVENT_NAME!r} is reserved for the metadata records themselves.")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise TypeError(f"The description of {name!r} must be a string, not {type(description).__name__}.")
    if not isinstance(field_descriptions or {}, Mapping):
        raise TypeError(f"The field descriptions of {name!r} must be a mapping of field name to text.")
    fields = dict(field_descriptions or {})
    for key, text in fields.items():
        if not isinstance(key, str) or not key or not isinstance(text, str):
            raise TypeError(f"Field {key!r} of {name!r}: field names and descriptions must be non-empty strings.")
    return Metadata(kind, name, description, fields, known_id)


class Registry:
    """The metadata a tracker knows: every version by id, and the one in force per name and kind.

    ``events`` and ``contexts`` map names to the metadata in force; they are plain dicts so that
    the tracker can test cheaply whether anything is registered at all.
    """

    def __init__(self) -> None:
        self.events: dict[str, Metadata] = {}
        self.contexts: dict[str, Metadata] = {}
        self._by_id: dict[str, tuple[Metadata, datetime.datetime]] = {}
        self._lock = threading.Lock()
        _registries.add(self)

    def add(self, metadata: Metadata, registered_at: datetime.datetime | None = None) -> bool:
        """Put ``metadata`` in force for its name; True when its id is new to this registry."""
        current = self.events if metadata.kind == EVENT else self.contexts
        with self._lock:
            new = metadata.id not in self._by_id
            if new:
                self._by_id[metadata.id] = (metadata, registered_at or datetime.datetime.now(datetime.UTC))
            current[metadata.name] = metadata
        return new

    def get(self, key: str) -> Metadata | None:
        """The metadata with this id, in force or not."""
        found = self._by_id.get(key)
        return found[0] if found is not None else None

    def registered_at(self, key: str) -> datetime.datetime | None:
        """When this registry first saw the id."""
        found = self._by_id.get(key)
        return found[1] if found is not None else None

    def versions(self, name: str, kind: str = EVENT) -> list[Metadata]:
        """Every metadata registered for ``name``, oldest first."""
        with self._lock:
            return [metadata for metadata, _ in self._by_id.values() if metadata.name == name and metadata.kind == kind]

    def __iter__(self) -> Iterator[tuple[Metadata, datetime.datetime]]:
        """Every metadata with its registration time, oldest first."""
        with self._lock:
            return iter(list(self._by_id.values()))


def registries() -> list[Registry]:
    """Every registry alive in this process (each tracker's, and the module-level one): what docs collect."""
    return list(_registries)


def metadata_event(metadata: Metadata, registered_at: datetime.datetime) -> dict[str, Any]:
    """The metadata record: an event named ``METADATA_EVENT_NAME`` whose data is the metadata."""
    return {"name": METADATA_EVENT_NAME, "timestamp": registered_at, "data": metadata.as_data(), "context": {}}


def is_metadata(event: Any) -> bool:
    """True for a metadata record (as emitted, or as a store gives it back), False for any event."""
    if not isinstance(event, Mapping) or event.get("name") != METADATA_EVENT_NAME:
        return False
    data = event.get("data")
    return isinstance(data, Mapping) and isinstance(data.get("id"), str)


def metadata_document(event: Mapping[str, Any]) -> dict[str, Any]:
    """The document of a metadata collection for a metadata record, keyed by its id.

    ``{"_id": id, "kind", "name", "description", "fields": [{"name", "description"}, ...],
    "registered_at": <the record's timestamp>}``.
    """
    data = event["data"]
    document = {"_id": data["id"]}
    document.update({key: data.get(key) for key in ("kind", "name", "description", "fields")})
    document["registered_at"] = event.get("timestamp")
    return document


def metadata_upsert(event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(filter, update)`` for ``update_one(..., upsert=True)``: idempotent, keeps the first registration time."""
    document = metadata_document(event)
    key = document.pop("_id")
    return {"_id": key}, {"$setOnInsert": document}


def metadata_from_record(record: Mapping[str, Any]) -> tuple[Metadata, Any] | None:
    """(metadata, registration time) from a metadata record or a metadata document; None for anything else."""
    if is_metadata(record):
        source, registered_at = record["data"], record.get("timestamp")
    elif isinstance(record, Mapping) and record.get("kind") in KINDS and "_id" in record:
        source, registered_at = record, record.get("registered_at")
    else:
        return None
    fields = source.get("fields") or []
    if isinstance(fields, Mapping):
        pairs = dict(fields)
    else:
        pairs = {item.get("name"): item.get("description", "") for item in fields if isinstance(item, Mapping)}
    try:
        stored_id = source.get("id", source.get("_id"))
        metadata = describe(
            source.get("kind"), source.get("name"), source.get("description"), pairs, str(stored_id or "")
        )
    except (TypeError, ValueError):
        return None
    return metadata, registered_at
