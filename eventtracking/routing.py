"""Route events through processors to backends: the routing tree, as an OTel LogRecordProcessor.

An ``EventRouter`` runs its processors in order (each a callable taking the event dict and
returning the event, a replacement, or None for "unchanged"; ``EventEmissionExit`` drops the
event for this router and everything below it; any other error is logged and the event goes
on), then hands the event to each backend, in name order. A backend is any of:

* an OTel ``LogRecordProcessor`` (anything with ``on_emit``), including another router:
  it receives the log record;
* an OTel ``LogRecordExporter`` (anything with ``export``): it is put behind an
  ``EventBatchProcessor``, so its I/O happens off the caller's thread;
* an object with ``send(event)``, the original contract: it receives the event dict,
  synchronously, on the caller's thread.

Used as a processor of a ``LoggerProvider``, a router handles the records that are events
(they have an ``event_name``) and ignores plain logs. ``eventtracking.backends.routing.RoutingBackend``
is this class under its original name.

Metadata records (``eventtracking.registry.is_metadata``) go around the processors, to every
backend: a filter written for events must never drop the documentation of those events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from eventtracking import diagnostics, records
from eventtracking.batching import EventBatchProcessor
from eventtracking.processors.exceptions import EventEmissionExit, NoBackendEnabled, NoTransformerImplemented
from eventtracking.registry import is_metadata
from eventtracking.values import copy_event_value

LOG = logging.getLogger("eventtracking.backends.routing")

Processor = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class _Branch:
    """How one backend is called: with the record, or with the event dict."""

    __slots__ = ("backend", "name", "on_emit", "send")

    def __init__(self, name: str, backend: Any) -> None:
        self.name = name
        self.backend = backend
        self.on_emit = None
        self.send = None
        if isinstance(backend, EventRouter):
            # A subclass that overrides send() (AsyncRoutingBackend does) must get send().
            if type(backend).send is EventRouter.send:
                self.on_emit = backend.route_record
            else:
                self.send = backend.send
        elif callable(getattr(backend, "on_emit", None)):
            self.on_emit = backend.on_emit
        else:
            self.send = backend.send


def _as_backend(backend: Any) -> Any:
    if callable(getattr(backend, "on_emit", None)) or callable(getattr(backend, "send", None)):
        return backend
    if callable(getattr(backend, "export", None)):
        return EventBatchProcessor(backend)
    raise ValueError(f'Backend {backend.__class__.__name__} has no callable "send", "on_emit" or "export" method.')


class EventRouter:
    """Processors, then backends; a LogRecordProcessor and the original ``RoutingBackend``."""

    def __init__(
        self,
        backends: Mapping[str, Any] | None = None,
        processors: Iterable[Processor] | None = None,
    ) -> None:
        self.backends: OrderedDict[str, Any] = OrderedDict()
        self.processors: list[Processor] = []
        self._branches: tuple[_Branch, ...] = ()
        if backends is not None:
            for name in sorted(backends.keys()):
                self.register_backend(name, backends[name])
        if processors is not None:
            for processor in processors:
                self.register_processor(processor)

    def register_backend(self, name: str, backend: Any) -> None:
        """Add a backend; backends are called in the order they were registered."""
        backend = _as_backend(backend)
        self.backends[name] = backend
        self._branches = tuple(_Branch(key, value) for key, value in self.backends.items())

    def register_processor(self, processor: Processor) -> None:
        """Add a processor; processors run in the order they were registered."""
        if not callable(processor):
            raise ValueError(f"Processor {processor.__class__.__name__} is not callable.")
        self.processors.append(processor)

    # The original API: events as dicts.

    def send(self, event: dict[str, Any]) -> None:
        """Process a copy of ``event`` and send it to the backends; never raises."""
        processed = self._processed(event)
        if processed is not None:
            self.send_to_backends(processed)

    def _processed(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """What the backends get: a processed copy of ``event``, or None when a processor drops it.

        A metadata record is returned as it is: it goes around the processors (eventtracking.registry).
        """
        if is_metadata(event):
            return event
        try:
            return self.process_event(copy_event_value(event))
        except EventEmissionExit:
            return None

    def process_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the processors in order; re-raises only ``EventEmissionExit``."""
        for processor in self.processors:
            try:
                modified = processor(event)
            except EventEmissionExit:
                raise
            except Exception:
                diagnostics.count("processor_error")
                LOG.exception("Failed to execute processor: %s", processor)
            else:
                if modified is not None:
                    event = modified
        return event

    def send_to_backends(
        self,
        event: dict[str, Any],
        record: records.EventLogRecord | None = None,
        names: Collection[str] | None = None,
    ) -> list[str]:
        """Give the processed event to every backend, or to those in ``names``.

        Errors are logged, never raised; the names of the backends that failed are returned,
        so that a caller that retries (the Celery task) retries only those.
        """
        failed: list[str] = []
        for branch in self._branches:
            if names is not None and branch.name not in names:
                continue
            try:
                if branch.send is not None:
                    branch.send(event)
                else:
                    if record is None:
                        record = records.record_for(event)
                    branch.on_emit(record)
            except NoTransformerImplemented as exc:
                LOG.info(
                    '[send_to_backends] No transformer has been implemented for edx event "%s", [%r]',
                    _name(event),
                    exc,
                )
            except NoBackendEnabled as exc:
                LOG.info(
                    '[send_to_backends] Failed to send edx event "%s" to "%s" backend. "%s" backend has'
                    " not been enabled, [%r]",
                    _name(event),
                    branch.name,
                    branch.name,
                    exc,
                )
            except Exception:
                diagnostics.count("backend_error")
                LOG.exception('Unable to send edx event "%s" to backend: %s', _name(event), branch.name)
                failed.append(branch.name)
        return failed

    # The OTel API: events as log records.

    def route_record(self, record: records.EventLogRecord) -> None:
        """Process and deliver an event record (a nested router's entry point)."""
        event = record.event
        if self.processors and not is_metadata(event):
            try:
                event = self.process_event(copy_event_value(event))
            except EventEmissionExit:
                return
            record = record.with_event(event)
        self.send_to_backends(event, record)

    def on_emit(self, log_record: Any) -> None:
        """LogRecordProcessor: route records that are events, ignore plain logs."""
        if isinstance(log_record, records.EventLogRecord):
            self.route_record(log_record)
            return
        event = records.event_of(log_record)
        if event is not None:
            self.route_record(records.record_for(event))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush every backend that buffers (OTel processors, nested routers)."""
        flushed = True
        for backend in self.backends.values():
            flush = getattr(backend, "force_flush", None)
            if callable(flush):
                flushed = flush(timeout_millis) is not False and flushed
        return flushed

    def shutdown(self) -> None:
        """Shut down every backend that can be shut down."""
        for backend in self.backends.values():
            stop = getattr(backend, "shutdown", None)
            if callable(stop):
                try:
                    stop()
                except Exception:
                    LOG.exception("Failed to shut down backend %r", backend)


def _name(event: Any) -> Any:
    return event.get("name") if isinstance(event, Mapping) else None
