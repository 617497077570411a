"""Events as OTel log records.

``EventRecord`` is an OTel API ``LogRecord`` that keeps the event dict exactly as emitted
(``record.event``) and derives the OTel views from it on first use, on whichever thread
reads them first (usually an exporter's worker): ``body`` is the event converted by the
portable rule (``eventtracking.values``), ``attributes`` the flattened context.
``EventLogRecord`` is the SDK ``ReadWriteLogRecord`` that carries it through processors.
Building both costs a few attribute assignments, which keeps ``emit`` cheap.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LogRecordLimits, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from eventtracking import values

SCOPE_NAME = "eventtracking"
UNKNOWN_EVENT_TYPE = "unknown"

_UNSET: Any = object()
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _datetime_to_ns(moment: datetime.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


class ContextAttributes(Mapping):
    """The record's attributes: its event's context, flattened when first read.

    A mapping rather than a dict so that handing the record to an SDK logger (which reads
    and re-assigns ``attributes``) does not flatten the context on the caller's thread.
    """

    __slots__ = ("_flat", "_record")

    def __init__(self, record: EventRecord) -> None:
        self._record = record
        self._flat: dict[str, Any] | None = None

    def _items(self) -> dict[str, Any]:
        if self._flat is None:
            event = self._record.event
            context = event.get("context") if isinstance(event, Mapping) else None
            self._flat = values.flatten(context) if isinstance(context, Mapping) else {}
        return self._flat

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __iter__(self):
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


class _Derived:
    """A record field computed from the record on first read, and settable like a plain attribute."""

    def __init__(self, compute: Any) -> None:
        self.compute = compute

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, record: Any, owner: type | None = None) -> Any:
        if record is None:
            return self
        fields = record.__dict__
        try:
            return fields[self.slot]
        except KeyError:
            value = fields[self.slot] = self.compute(record)
            return value

    def __set__(self, record: Any, value: Any) -> None:
        record.__dict__[self.slot] = value


def _event_field(record: EventRecord, key: str) -> Any:
    event = record.event
    return event.get(key) if isinstance(event, Mapping) else None


def _event_name(record: EventRecord) -> str:
    name = _event_field(record, "name")
    return UNKNOWN_EVENT_TYPE if name is None else str(name)


def _timestamp(record: EventRecord) -> int:
    moment = _event_field(record, "timestamp")
    return _datetime_to_ns(moment) if isinstance(moment, datetime.datetime) else record.observed_timestamp


def _observed_timestamp(record: EventRecord) -> int:
    moment = _event_field(record, "timestamp")
    return _datetime_to_ns(moment) if isinstance(moment, datetime.datetime) else time.time_ns()


def _span_context(record: EventRecord) -> trace.SpanContext:
    return trace.get_current_span(record.context).get_span_context()


class EventRecord(LogRecord):
    """An event as an OTel log record; ``event`` is the dict backends and processors see.

    Only ``event`` and ``context`` are set when it is made; the other fields are derived
    from them on first read.
    """

    severity_text = None
    severity_number = None
    exception = None

    # Fields derived from the event; with_event() forgets them.
    event_name = _Derived(_event_name)
    timestamp = _Derived(_timestamp)
    observed_timestamp = _Derived(_observed_timestamp)
    body = _Derived(lambda record: values.portable(record.event))
    attributes = _Derived(ContextAttributes)
    _EVENT_FIELDS = ("_event_name", "_timestamp", "_body", "_attributes")

    # Fields derived from the OTel Context the event was emitted in.
    span_context = _Derived(_span_context)
    trace_id = _Derived(lambda record: record.span_context.trace_id)
    span_id = _Derived(lambda record: record.span_context.span_id)
    trace_flags = _Derived(lambda record: record.span_context.trace_flags)

    def __init__(self, event: dict[str, Any], context: otel_context.Context | None = None) -> None:
        # LogRecord.__init__ is skipped on purpose: it would compute every field now.
        self.event = event
        self.__dict__["_context"] = otel_context.get_current() if context is None else context

    @property
    def context(self) -> otel_context.Context:
        return self._context

    @context.setter
    def context(self, value: otel_context.Context) -> None:
        # Processors drop the context to free memory (the SDK's batch processor does):
        # the trace ids it holds are read first.
        self.span_context  # noqa: B018 - computes and keeps the span context
        self._context = value

    def with_event(self, event: dict[str, Any]) -> EventRecord:
        """The same record (same OTel Context) carrying another event dict."""
        clone = object.__new__(EventRecord)
        fields = clone.__dict__
        fields.update(self.__dict__)
        for name in self._EVENT_FIELDS:
            fields.pop(name, None)
        clone.event = event
        return clone


_DEFAULT_LIMITS = LogRecordLimits()
_DEFAULT_SCOPE = InstrumentationScope(SCOPE_NAME)
_default_resource: Resource | None = None


def default_resource() -> Resource:
    """The resource of records built outside a logger (``Resource.create()`` reads the environment once)."""
    global _default_resource  # noqa: PLW0603 - a lazily built constant
    if _default_resource is None:
        _default_resource = Resource.create()
    return _default_resource


class EventLogRecord(ReadWriteLogRecord):
    """The SDK wrapper of an ``EventRecord``, built without re-validating the attributes."""

    def __init__(
        self,
        log_record: EventRecord,
        resource: Resource | None = None,
        instrumentation_scope: InstrumentationScope | None = None,
        limits: LogRecordLimits | None = None,
    ) -> None:
        # The dataclass __init__ is skipped on purpose: its __post_init__ would wrap the
        # attributes in BoundedAttributes, computing them on the caller's thread.
        self.log_record = log_record
        self.resource = resource if resource is not None else default_resource()
        self.instrumentation_scope = instrumentation_scope or _DEFAULT_SCOPE
        self.limits = limits or _DEFAULT_LIMITS

    @property
    def event(self) -> dict[str, Any]:
        return self.log_record.event

    def with_event(self, event: dict[str, Any]) -> EventLogRecord:
        return EventLogRecord(self.log_record.with_event(event), self.resource, self.instrumentation_scope, self.limits)


def record_for(event: dict[str, Any]) -> EventLogRecord:
    """A log record for an event that reached the pipeline without one (a direct ``send``)."""
    return EventLogRecord(EventRecord(event))


def event_of(record: Any) -> dict[str, Any] | None:
    """The event in a log record (an ``EventLogRecord`` or any SDK record), or None for a plain log.

    Records from other OTel loggers are events when they carry an ``event_name``; their event
    is rebuilt in the seed's shape from the body and attributes.
    """
    log_record = getattr(record, "log_record", record)
    event = getattr(log_record, "event", None)
    if isinstance(event, dict):
        return event
    name = getattr(log_record, "event_name", None)
    if not name:
        return None
    body = log_record.body
    if isinstance(body, Mapping) and {"name", "data"} <= body.keys():
        rebuilt = dict(body)
        if isinstance(rebuilt.get("timestamp"), str):
            try:
                rebuilt["timestamp"] = datetime.datetime.fromisoformat(rebuilt["timestamp"])
            except ValueError:
                pass
        return rebuilt
    nanos = log_record.timestamp or log_record.observed_timestamp or time.time_ns()
    return {
        "name": name,
        "timestamp": _EPOCH + datetime.timedelta(microseconds=nanos // 1000),
        "context": dict(log_record.attributes or {}),
        "data": body if isinstance(body, Mapping) else {"body": body},
    }
