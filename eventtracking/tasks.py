"""The Celery task that delivers the events an ``AsyncRoutingBackend`` enqueued (extra ``celery``).

The producer runs the backend's processors, then enqueues the event with ``send_event``; a
worker looks the backend up by name among its default tracker's backends and gives the event to
that backend's nested backends. A nested backend that raises is retried alone (the others are
not sent the event twice), up to ``EVENTTRACKING_CELERY_MAX_RETRIES`` times (default 3),
``EVENTTRACKING_CELERY_RETRY_COUNTDOWN`` seconds apart (default 30); after the last retry the
failure is logged, counted as ``async_delivery_dropped`` and the task fails with
``DeliveryFailed``. ``NoTransformerImplemented`` and ``NoBackendEnabled`` are logged at INFO
and not retried. Before a prefork worker process exits, every tracker is flushed, so that
nested exporters behind batch processors deliver what they buffer.

On the wire the event is plain JSON values (``eventtracking.values.portable``), so that any
Celery serializer carries it; the worker turns its ISO-8601 ``timestamp`` back into a datetime.
Other datetimes in ``data`` and ``context`` arrive as ISO-8601 strings.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

try:
    from celery import Task, shared_task
    from celery.signals import worker_process_shutdown
    from celery.utils.log import get_task_logger
except ImportError as error:  # the ``celery`` extra is not installed
    raise ImportError("eventtracking.tasks needs Celery: pip install 'event-tracking-otel[celery]'") from error

from eventtracking import config, diagnostics, values
from eventtracking.tracker import TRACKERS, get_tracker

__all__ = ["COUNTDOWN", "MAX_RETRIES", "DeliveryFailed", "decode_event", "encode_event", "send_event"]

LOG = get_task_logger(__name__)

# Defaults of EVENTTRACKING_CELERY_MAX_RETRIES and EVENTTRACKING_CELERY_RETRY_COUNTDOWN (the original's values).
MAX_RETRIES = 3
COUNTDOWN = 30


class DeliveryFailed(Exception):
    """Nested backends still failed after the last retry; the task ends in FAILURE."""


def max_retries() -> int:
    """How many times a failed delivery is retried (``EVENTTRACKING_CELERY_MAX_RETRIES``)."""
    return int(config.number(config.CELERY_MAX_RETRIES, MAX_RETRIES, integer=True))


def retry_countdown() -> float:
    """Seconds between retries (``EVENTTRACKING_CELERY_RETRY_COUNTDOWN``)."""
    return config.number(config.CELERY_RETRY_COUNTDOWN, COUNTDOWN)


def encode_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as the task carries it: JSON values only, whatever serializer Celery uses."""
    return values.portable(event)


def decode_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event as backends expect it: its ISO-8601 ``timestamp`` back to an aware datetime."""
    event = dict(payload)
    timestamp = event.get("timestamp")
    if isinstance(timestamp, str):
        try:
            event["timestamp"] = datetime.datetime.fromisoformat(timestamp)
        except ValueError:
            LOG.warning("[send_event] Event %r has a timestamp that is not ISO-8601: %r", event.get("name"), timestamp)
    return event


@shared_task(bind=True, ignore_result=True)
def send_event(
    self: Task, backend_name: str, processed_event: dict[str, Any], backends: list[str] | None = None
) -> None:
    """Give an event, already processed by the producer, to the nested backends of ``backend_name``.

    Only ``AsyncRoutingBackend`` should enqueue this task: the backend must be a top-level
    backend of the worker's default tracker. ``backends``, set by retries, limits delivery to
    the nested backends that failed before (``None``: all of them).
    """
    event = decode_event(processed_event)
    name = event.get("name")
    try:
        pending = get_tracker().backends[backend_name].send_to_backends(event, names=backends)
    except Exception:
        LOG.exception("[send_event] Failed to send event %r with backend %r", name, backend_name)
        pending = backends
    else:
        if not pending:
            return
    limit = max_retries()
    failure = DeliveryFailed(
        f"Event {name!r} was not delivered by backend {backend_name!r} to: "
        f"{', '.join(pending) if pending is not None else 'all of its backends'}"
    )
    if self.request.retries >= limit:
        diagnostics.count("async_delivery_dropped")
        LOG.error("[send_event] Gave up after %d retries: %s", limit, failure)
        raise failure
    raise self.retry(
        args=(backend_name, processed_event),
        kwargs={"backends": pending},
        exc=failure,
        countdown=retry_countdown(),
        max_retries=limit,
    )


@worker_process_shutdown.connect
def flush_trackers(**_signal: Any) -> None:
    """Deliver what the trackers still buffer: a prefork child ends with ``os._exit``, skipping atexit."""
    for registered in list(TRACKERS.values()):
        registered.flush()
