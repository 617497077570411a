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

``emit`` never raises into the application: what goes wrong is logged and counted.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry import context as otel_context
from opentelemetry._logs._internal import NoOpLoggerProvider, ProxyLoggerProvider
from opentelemetry.sdk._logs import Logger as SDKLogger
from opentelemetry.sdk._logs import LoggerProvider

from eventtracking import config, diagnostics, environment, values
from eventtracking.backends.routing import RoutingBackend
from eventtracking.locator import OTelContextLocator, default_locator
from eventtracking.processors.exceptions import EventEmissionExit
from eventtracking.records import SCOPE_NAME, UNKNOWN_EVENT_TYPE, EventLogRecord, EventRecord

__all__ = ["DEFAULT_TRACKER_NAME", "UNKNOWN_EVENT_TYPE", "Tracker", "emit", "get_tracker", "register_tracker"]

DEFAULT_TRACKER_NAME = "default"
TRACKERS: dict[str, Tracker] = {}
LOG = logging.getLogger(__name__)

_UTC = datetime.UTC
_now = datetime.datetime.now
_anonymous_names = itertools.count(1)
_default_lock = threading.Lock()

try:
    _VERSION = metadata.version("event-tracking-otel")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
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


class Tracker:
    """Emit events to the OTel pipeline and to a set of backends, with the entered contexts.

    ``backends`` maps names to backends (see ``eventtracking.routing``); ``processors`` run on
    every event before any backend or OTel processor sees it; ``context_locator`` defaults to
    the OTel Context. ``logger_provider`` defaults to the global OTel provider when one is set,
    and to a provider the tracker owns otherwise. ``span_events`` defaults to
    ``EVENTTRACKING_SPAN_EVENTS``.
    """

    def __init__(
        self,
        backends: Mapping[str, Any] | None = None,
        context_locator: Any = None,
        processors: list[Any] | None = None,
        *,
        logger_provider: _logs.LoggerProvider | None = None,
        span_events: bool | None = None,
    ) -> None:
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
        except Exception:
            diagnostics.count("emit_error")
            LOG.exception("Failed to emit event %r", name)

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

    def enter_context(self, name: str, ctx: Mapping[str, Any], *, process_wide: bool = False) -> None:
        """Enter a named context: events emitted until it is exited carry its values.

        Re-entering a name replaces its values in place. With ``process_wide=True`` the
        context is seen by every thread (for values such as host or release), beneath the
        contexts entered per thread or task.
        """
        self._contexts.enter(name, ctx, process_wide=process_wide)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(values.flatten(ctx))

    def exit_context(self, name: str) -> None:
        """Exit a named context; exiting a name that is not entered does nothing."""
        if not self._contexts.exit(name):
            LOG.debug("exit_context(%r): no such context is entered here; nothing to do", name)

    @contextmanager
    def context(self, name: str | Mapping[str, Any], ctx: Mapping[str, Any] | None = None) -> Iterator[None]:
        """Run the block inside a context, exited even when the block raises.

        ``context(ctx)`` without a name enters an anonymous context, as the original README
        example does.
        """
        if ctx is None and isinstance(name, Mapping):
            name, ctx = f"anonymous-{next(_anonymous_names)}", name
        self.enter_context(name, ctx)
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
    """Make ``tracker`` available as ``get_tracker(name)``; the default name serves ``emit``."""
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
            TRACKERS[name] = Tracker(backends=environment.exporters(global_provider=global_logger_provider()))
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
