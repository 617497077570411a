"""Track application events, as OTel log records that share the trace and context they happen in.

Best practices, from the original library: namespace event names with dots (``org.edx.video.stop``),
do not reuse another owner's event names, and do not emit events you do not own.

``Tracker.emit(name, data)`` builds the event ``{"name", "timestamp", "data", "context"}``
(timestamp in UTC, context merged from every entered context), runs the tracker's processors,
then records it:

* as an OTel log record, with ``event_name``, the event as its body and the context as its
  attributes, through the tracker's ``LoggerProvider`` (the global one when it is set, its own
  otherwise, or the one given), so that every processor and exporter of that provider gets it;
* to each of the tracker's backends (see ``eventtracking.routing``);
* as a span event on the current span, when it is recording and span events are enabled
  (``EVENTTRACKING_SPAN_EVENTS``, default on).

``emit`` never raises into the application: what goes wrong is logged and counted (in strict
mode, an event that fails a check of its registration raises ``InvalidEvent``).

Event types are optional: ``register(name, description, field_descriptions)`` documents one, and
its events then carry ``name_id``; a context entered with a description makes the events inside it
carry ``context_type_id`` (see ``eventtracking.registry`` and ``eventtracking.validation``).
"""

from __future__ import annotations

import datetime
import itertools
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata as importlib_metadata
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry import context as otel_context
from opentelemetry._logs._internal import NoOpLoggerProvider, ProxyLoggerProvider
from opentelemetry.sdk._logs import Logger as SDKLogger
from opentelemetry.sdk._logs import LoggerProvider

from eventtracking import config, diagnostics, environment, registry, values
from eventtracking.backends.routing import RoutingBackend
from eventtracking.locator import OTelContextLocator, default_locator
from eventtracking.processors.exceptions import EventEmissionExit
from eventtracking.records import SCOPE_NAME, UNKNOWN_EVENT_TYPE, EventLogRecord, EventRecord
from eventtracking.registry import Metadata, Registry
from eventtracking.validation import ALL, EventValidator, InvalidEvent

__all__ = [
    "DEFAULT_TRACKER_NAME",
    "UNKNOWN_EVENT_TYPE",
    "InvalidEvent",
    "Tracker",
    "emit",
    "get_tracker",
    "register",
    "register_context",
    "register_tracker",
]

DEFAULT_TRACKER_NAME = "default"
TRACKERS: dict[str, Tracker] = {}
LOG = logging.getLogger(__name__)

_UTC = datetime.UTC
_now = datetime.datetime.now
_anonymous_names = itertools.count(1)
_default_lock = threading.Lock()
# Metadata records carry no trace: they document events rather than happen in a request.
_NO_TRACE = otel_context.Context()
# Types registered through the module-level register(): every default tracker adopts them.
DEFAULT_TYPES = Registry()
# Metadata of the contexts entered with a description, by (name, description, fields).
_described_contexts: dict[tuple[Any, ...], Metadata] = {}
_DESCRIBED_CONTEXTS_LIMIT = 1024

try:
    _VERSION = importlib_metadata.version("event-tracking-otel")
except importlib_metadata.PackageNotFoundError:  # running from a source tree that is not installed
    _VERSION = None


def global_logger_provider() -> _logs.LoggerProvider | None:
    """The global OTel LoggerProvider, or None while none has been set."""
    provider = _logs.get_logger_provider()
    if isinstance(provider, (ProxyLoggerProvider, NoOpLoggerProvider)):
        return None
    return provider


class _LocatorContexts:
    """The tracker's view of an original locator (``get()`` returning a dict of contexts)."""

    def __init__(self, locator: Any) -> None:
        self.locator = locator

    def enter(self, name: str, context_values: Mapping[str, Any], *, process_wide: bool = False) -> None:
        self.locator.get()[name] = context_values

    def exit(self, name: str) -> bool:
        contexts = self.locator.get()
        if name not in contexts:
            return False
        del contexts[name]
        return True

    def resolve(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for context_values in self.locator.get().values():
            merged.update(context_values)
        return values.copy_event_value(merged)

    def names(self) -> tuple[str, ...]:
        return tuple(self.locator.get())


class Tracker:
    """Emit events to the OTel pipeline and to a set of backends, with the entered contexts.

    ``backends`` maps names to backends (see ``eventtracking.routing``); ``processors`` run on
    every event before any backend or OTel processor sees it; ``context_locator`` defaults to
    the OTel Context. ``logger_provider`` defaults to the global OTel provider when one is set,
    and to a provider the tracker owns otherwise. ``span_events`` defaults to
    ``EVENTTRACKING_SPAN_EVENTS``, ``strict`` to ``EVENTTRACKING_STRICT``.
    """

    def __init__(
        self,
        backends: Mapping[str, Any] | None = None,
        context_locator: Any = None,
        processors: list[Any] | None = None,
        *,
        logger_provider: _logs.LoggerProvider | None = None,
        span_events: bool | None = None,
        strict: bool | None = None,
    ) -> None:
        self.registry = Registry()
        self.validator = EventValidator(strict=strict)
        # None while nothing is registered (and unregistered events are not validated), so that
        # emit pays one attribute test for the whole feature.
        self._typing: Any = self._annotate if self.validator.mode == ALL else None
        self.routing_backend = RoutingBackend(backends=backends, processors=processors)
        self.context_locator = context_locator or default_locator()
        if isinstance(self.context_locator, OTelContextLocator):
            self._contexts: Any = self.context_locator
        else:
            self._contexts = _LocatorContexts(self.context_locator)
        self.span_events = config.span_events() if span_events is None else bool(span_events)
        self._owns_provider = False
        if logger_provider is None:
            logger_provider = global_logger_provider()
        if logger_provider is None:
            logger_provider = LoggerProvider()
            self._owns_provider = True
        self.logger_provider = logger_provider
        self._logger = logger_provider.get_logger(SCOPE_NAME, _VERSION)
        if isinstance(self._logger, SDKLogger):
            self._resource = self._logger.resource
            self._scope = self._logger.instrumentation_scope
            self._limits = getattr(logger_provider, "_log_record_limits", None)
            # Its processors are looked up on every emit, since they may be added later.
            self._multi = getattr(logger_provider, "_multi_log_record_processor", None)
        else:
            self._resource = self._scope = self._limits = self._multi = None

    @property
    def located_context(self) -> Any:
        """The mapping of entered contexts by name, as the locator holds it."""
        return self.context_locator.get()

    def get_backend(self, name: str) -> Any:
        """The backend registered as ``name``."""
        return self.backends[name]

    @property
    def processors(self) -> list[Any]:
        """The processors that run on every event, in order."""
        return self.routing_backend.processors

    @property
    def backends(self) -> dict[str, Any]:
        """The backends by name, in the order they are called."""
        return self.routing_backend.backends

    def _provider_listens(self) -> bool:
        multi = self._multi
        return multi is None or bool(getattr(multi, "_log_record_processors", True))

    def emit(self, name: str | None = None, data: Any = None) -> None:
        """Record an event named ``name`` with ``data``, in the current contexts; never raises."""
        try:
            if not name:
                diagnostics.warn(
                    "missing_name", "", "An event was emitted without a name; recorded as %r.", UNKNOWN_EVENT_TYPE
                )
                name = UNKNOWN_EVENT_TYPE
            if type(data) is dict:
                data = values.copy_event_value(data)
            elif not data:
                data = {}
            else:
                diagnostics.warn(
                    "data_not_dict",
                    name,
                    "Event %r was emitted with data of type %s instead of a dict; recorded as given.",
                    name,
                    type(data).__name__,
                )
            event = {"name": name, "timestamp": _now(_UTC), "data": data, "context": self._contexts.resolve()}
            if self._typing is not None:
                self._typing(event)
            router = self.routing_backend
            if router.processors:
                event = router.process_event(event)
            current = otel_context.get_current()
            record = EventLogRecord(EventRecord(event, current), self._resource, self._scope, self._limits)
            if self._provider_listens():
                self._emit_to_provider(record)
            router.send_to_backends(event, record)
            if self.span_events:
                span = trace.get_current_span(current)
                if span.is_recording():
                    _add_span_event(span, record)
        except EventEmissionExit:
            return
        except InvalidEvent:
            raise  # only in strict mode
        except Exception:
            diagnostics.count("emit_error")
            LOG.exception("Failed to emit event %r", name)

    @property
    def strict(self) -> bool:
        """Whether an event that fails a check of its registration raises ``InvalidEvent``."""
        return self.validator.strict

    def _annotate(self, event: dict[str, Any]) -> None:
        """Add the metadata ids to ``event`` and check it against its registration."""
        types = self.registry.events
        metadata = types.get(event["name"])
        if metadata is not None:
            event["name_id"] = metadata.id
        if self.registry.contexts:
            context_type = self._innermost_context_type()
            if context_type is not None:
                event["context_type_id"] = context_type.id
        try:
            self.validator.check(event, metadata, types_registered=bool(types))
        except InvalidEvent:
            raise
        except Exception:
            diagnostics.count("validation_error")
            LOG.exception("Failed to check event %r against its registration; recorded unchecked", event["name"])

    def _innermost_context_type(self) -> Metadata | None:
        """The metadata of the described context entered last (whose values win on a key clash)."""
        described = self.registry.contexts
        for name in reversed(self._contexts.names()):
            metadata = described.get(name)
            if metadata is not None:
                return metadata
        return None

    def register(
        self, name: str, description: str = "", field_descriptions: Mapping[str, str] | None = None
    ) -> Metadata:
        """Document the event type ``name``: its events then carry ``name_id``, the id returned here.

        The metadata in force is the last registered; registering different content makes a new
        version (a new id), and the old one stays known. The first time this tracker sees an id,
        the metadata record goes through its pipeline. Wrong arguments raise ``TypeError`` or
        ``ValueError`` here, not at emit time.
        """
        return self._add(registry.describe(registry.EVENT, name, description, field_descriptions))

    def register_context(
        self, name: str, description: str = "", field_descriptions: Mapping[str, str] | None = None
    ) -> Metadata:
        """Document the context ``name``: events emitted while it is entered carry ``context_type_id``.

        ``enter_context(name, ctx, description, field_descriptions)`` does the same; calling this
        at import time lets the documentation generator list contexts entered only per request.
        """
        return self._add(registry.describe(registry.CONTEXT, name, description, field_descriptions))

    def _add(self, metadata: Metadata, registered_at: datetime.datetime | None = None) -> Metadata:
        if self.registry.add(metadata, registered_at):
            self._publish(metadata)
        self._typing = self._annotate
        return metadata

    def _adopt(self, types: Registry) -> None:
        """Register everything in ``types`` (oldest first, keeping its registration times)."""
        for metadata, registered_at in types:
            self._add(metadata, registered_at)

    def _publish(self, metadata: Metadata) -> None:
        """Send the metadata record through the pipeline, around every processor."""
        event = registry.metadata_event(metadata, self.registry.registered_at(metadata.id))
        record = EventLogRecord(EventRecord(event, _NO_TRACE), self._resource, self._scope, self._limits)
        if self._provider_listens():
            self._emit_to_provider(record)
        self.routing_backend.send_to_backends(event, record)

    def _emit_to_provider(self, record: EventLogRecord) -> None:
        try:
            if isinstance(self._logger, SDKLogger):
                self._logger.emit(record)
            else:
                self._logger.emit(record.log_record)
        except Exception:
            diagnostics.count("provider_error")
            LOG.exception("A processor of the LoggerProvider failed on event %r", record.log_record.event_name)

    def resolve_context(self) -> dict[str, Any]:
        """The union of every entered context; on a key clash the later entered context wins."""
        return self._contexts.resolve()

    def enter_context(
        self,
        name: str,
        ctx: Mapping[str, Any],
        description: str | None = None,
        field_descriptions: Mapping[str, str] | None = None,
        *,
        process_wide: bool = False,
    ) -> None:
        """Enter a named context: events emitted until it is exited carry its values.

        Re-entering a name replaces its values in place. With ``process_wide=True`` the
        context is seen by every thread (for values such as host or release), beneath the
        contexts entered per thread or task. A ``description`` (or ``field_descriptions``)
        registers the context (see ``register_context``).
        """
        if description is not None or field_descriptions is not None:
            self._describe_context(name, description, field_descriptions)
        self._contexts.enter(name, ctx, process_wide=process_wide)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(values.flatten(ctx))

    def exit_context(self, name: str) -> None:
        """Exit a named context; exiting a name that is not entered does nothing."""
        if not self._contexts.exit(name):
            LOG.debug("exit_context(%r): no such context is entered here; nothing to do", name)

    def _describe_context(
        self, name: str, description: str | None, field_descriptions: Mapping[str, str] | None
    ) -> None:
        # Entering a described context is frequent (every request): its metadata is computed once.
        key = (name, description, tuple((field_descriptions or {}).items()))
        metadata = _described_contexts.get(key)
        if metadata is None:
            metadata = registry.describe(registry.CONTEXT, name, description, field_descriptions)
            if len(_described_contexts) >= _DESCRIBED_CONTEXTS_LIMIT:
                _described_contexts.clear()
            _described_contexts[key] = metadata
        if self.registry.contexts.get(name) is not metadata:
            self._add(metadata)

    @contextmanager
    def context(
        self,
        name: str | Mapping[str, Any],
        ctx: Mapping[str, Any] | None = None,
        description: str | None = None,
        field_descriptions: Mapping[str, str] | None = None,
    ) -> Iterator[None]:
        """Run the block inside a context, exited even when the block raises.

        ``context(ctx)`` without a name enters an anonymous context, as the original README
        example does. ``description`` and ``field_descriptions`` are those of ``enter_context``.
        """
        if ctx is None and isinstance(name, Mapping):
            name, ctx = f"anonymous-{next(_anonymous_names)}", name
        self.enter_context(name, ctx, description, field_descriptions)
        try:
            yield
        finally:
            self.exit_context(name)

    def flush(self, timeout_millis: int = 30000) -> bool:
        """Deliver everything emitted so far: every backend queue and the LoggerProvider's."""
        flushed = self.routing_backend.force_flush(timeout_millis)
        provider_flush = getattr(self.logger_provider, "force_flush", None)
        if callable(provider_flush):
            flushed = provider_flush(timeout_millis) is not False and flushed
        return flushed

    def close(self) -> None:
        """Flush, then shut down the backends and the LoggerProvider if the tracker made it."""
        self.flush()
        self.routing_backend.shutdown()
        if self._owns_provider:
            self.logger_provider.shutdown()


def _add_span_event(span: trace.Span, record: EventLogRecord) -> None:
    event = record.event
    attributes = values.flatten({"context": event.get("context") or {}, "data": event.get("data")})
    span.add_event(record.log_record.event_name, attributes, timestamp=record.log_record.timestamp)


def register_tracker(tracker: Tracker, name: str = DEFAULT_TRACKER_NAME) -> None:
    """Make ``tracker`` available as ``get_tracker(name)``; the default name serves ``emit``.

    A default tracker adopts the types registered with the module-level ``register``.
    """
    if name != DEFAULT_TRACKER_NAME:
        TRACKERS[name] = tracker
        return
    with _default_lock:
        tracker._adopt(DEFAULT_TYPES)
        TRACKERS[name] = tracker


def get_tracker(name: str = DEFAULT_TRACKER_NAME) -> Tracker:
    """The tracker registered as ``name``.

    With no default tracker registered, one is made from the environment (see
    ``eventtracking.environment``) and registered. Other names raise ``KeyError``.
    """
    try:
        return TRACKERS[name]
    except KeyError:
        if name != DEFAULT_TRACKER_NAME:
            raise
    with _default_lock:
        if name not in TRACKERS:
            tracker = Tracker(backends=environment.exporters(global_provider=global_logger_provider()))
            tracker._adopt(DEFAULT_TYPES)
            TRACKERS[name] = tracker
        return TRACKERS[name]


def emit(name: str | None = None, data: Any = None) -> None:
    """``emit`` on the default tracker; never raises, even when the default tracker cannot be made."""
    try:
        tracker = get_tracker()
    except Exception:
        diagnostics.count("emit_error")
        LOG.exception("No default tracker for event %r", name)
        return
    tracker.emit(name=name, data=data)


def _register_default(kind: str, name: str, description: str, field_descriptions: Mapping[str, str] | None) -> Metadata:
    metadata = registry.describe(kind, name, description, field_descriptions)
    with _default_lock:
        DEFAULT_TYPES.add(metadata)
        tracker = TRACKERS.get(DEFAULT_TRACKER_NAME)
        if tracker is not None:
            tracker._add(metadata, DEFAULT_TYPES.registered_at(metadata.id))
    return metadata


def register(name: str, description: str = "", field_descriptions: Mapping[str, str] | None = None) -> Metadata:
    """``register`` for the default tracker, without creating it: one made later adopts the type."""
    return _register_default(registry.EVENT, name, description, field_descriptions)


def register_context(name: str, description: str = "", field_descriptions: Mapping[str, str] | None = None) -> Metadata:
    """``register_context`` for the default tracker, without creating it."""
    return _register_default(registry.CONTEXT, name, description, field_descriptions)
