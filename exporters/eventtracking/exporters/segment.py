"""Send events to Segment as ``track`` calls (entry point ``eventtracking_segment``, extra ``segment``).

The delivery is the maintained ``segment-analytics-python`` client's: it queues messages, posts
them in batches to ``{host}/v1/batch`` on its own thread and retries failures with backoff. This
exporter owns one ``segment.analytics.Client``, built from ``write_key`` and ``host``
(``EVENTTRACKING_SEGMENT_WRITE_KEY`` and ``EVENTTRACKING_SEGMENT_HOST`` when not given).

The mapping is the original library's (``track_call``): an event needs a name and a
``context.user_id`` (others are skipped and counted as ``segment_skipped``); ``client_id``
becomes the Google Analytics ``clientId``, ``ip`` the ``ip``, ``agent`` the ``userAgent``, and
``path``, ``referer`` and ``page`` the page's ``path``, ``referrer`` and ``url``, the url being
``https://{host}{path}`` when ``page`` is absent. The whole event is the ``properties``,
converted by the portable rule (datetimes as UTC ISO-8601 strings), and its timestamp is the
message's ``timestamp``, so an event delivered late keeps the time it happened.

Metadata records (``eventtracking.registry.is_metadata``: the documentation of a registered event
type, emitted once as ``eventtracking.metadata``) are not user events: they are never sent, nor
counted as skipped (a DEBUG log line notes each).
"""

from __future__ import annotations

import atexit
import datetime
import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlunsplit

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from eventtracking import config, diagnostics, registry, values
from eventtracking.exceptions import ImproperlyConfigured
from eventtracking.records import event_of

try:
    from segment import analytics
except ImportError:  # the ``segment`` extra is not installed
    analytics = None

__all__ = ["SegmentLogExporter", "enqueue", "skip_metadata", "track_call", "wait_for_delivery"]

LOG = logging.getLogger(__name__)

SKIPPED = "segment_skipped"
REJECTED = "segment_rejected"
# How often an export waiting for room in the client's full queue looks again.
_QUEUE_POLL_SECONDS = 0.05
_EXIT_FLUSH_MILLIS = 10000


def track_call(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The keyword arguments of the Segment ``track`` call for ``event``, or None when it has no user or name."""
    properties = values.portable(event)
    context = properties.get("context")
    if not isinstance(context, dict):
        context = {}
    name = properties.get("name")
    user_id = context.get("user_id")
    if name is None or user_id is None or user_id == "":
        return None

    segment_context: dict[str, Any] = {}
    client_id = context.get("client_id")
    if client_id is not None:
        segment_context["Google Analytics"] = {"clientId": client_id}
    ip_address = context.get("ip")
    if ip_address is not None:
        segment_context["ip"] = ip_address
    user_agent = context.get("agent")
    if user_agent is not None:
        segment_context["userAgent"] = user_agent

    path = context.get("path")
    referer = context.get("referer")
    page = context.get("page")
    if path and not page:
        # Segment reads the host and path from the url; the scheme is a guess, as in the original.
        host = context.get("host")
        if host:
            page = urlunsplit(("https", str(host), str(path), "", ""))
    if path is not None or referer is not None or page is not None:
        page_info: dict[str, Any] = {}
        if path is not None:
            page_info["path"] = path
        if referer is not None:
            page_info["referrer"] = referer
        if page is not None:
            page_info["url"] = page
        segment_context["page"] = page_info

    call = {
        # The client accepts only str or number ids and refuses 0; it sends ids as strings anyway.
        "user_id": user_id if isinstance(user_id, str) else str(user_id),
        "event": name if isinstance(name, str) else str(name),
        "properties": properties,
        "context": segment_context,
    }
    timestamp = event.get("timestamp")
    if isinstance(timestamp, datetime.datetime):
        call["timestamp"] = timestamp
    return call


def skip_metadata(event: Any) -> bool:
    """True for a metadata record, which documents events and is not one: Segment never gets it."""
    if not registry.is_metadata(event):
        return False
    LOG.debug("Not sent to Segment: the metadata record of %r (not a user event).", event["data"].get("name"))
    return True


def enqueue(target: Any, event: Mapping[str, Any]) -> bool:
    """Queue ``event`` on ``target`` (a ``Client``, or the ``segment.analytics`` module).

    False means the client's queue is full, so that the caller can wait and try again. Events
    Segment cannot take (no user or name, over the client's 32 KB message limit) are counted,
    logged and reported as handled: sending them again would not help. Metadata records are
    not events: they are reported as handled, neither sent nor counted.
    """
    if skip_metadata(event):
        return True
    call = track_call(event) if isinstance(event, Mapping) else None
    name = event.get("name") if isinstance(event, Mapping) else None
    if call is None:
        diagnostics.warn(
            SKIPPED,
            name,
            "Event %r has no name or no context.user_id: not sent to Segment.",
            name,
            level=logging.DEBUG,
        )
        return True
    try:
        accepted, _message = target.track(**call)
    except (AssertionError, RuntimeError) as error:  # the client's require() and message size checks
        diagnostics.warn(REJECTED, name, "Segment's client refused event %r: %s", name, error)
        return True
    return bool(accepted)


def wait_for_delivery(client: Any, timeout_seconds: float) -> bool:
    """Wait until ``client`` has posted (or given up on) everything queued; unlike ``Client.flush``, bounded."""
    queue = client.queue
    with queue.all_tasks_done:
        return queue.all_tasks_done.wait_for(lambda: not queue.unfinished_tasks, timeout_seconds)


def _segment_module() -> Any:
    """The ``segment.analytics`` module, or a clear error telling how to install it."""
    if analytics is None:
        raise ImproperlyConfigured(
            "Segment: segment-analytics-python is not installed; install event-tracking-otel[segment]."
        )
    return analytics


class SegmentLogExporter(LogRecordExporter):
    """An OTel log exporter that sends each event to Segment as a ``track`` call.

    ``write_key`` (``EVENTTRACKING_SEGMENT_WRITE_KEY``, required) and ``host``
    (``EVENTTRACKING_SEGMENT_HOST``, default the client's ``https://api.segment.io``) select
    the source; ``client_options`` go to ``segment.analytics.Client`` as they are
    (``gzip``, default True here; ``max_queue_size``, ``upload_size``, ``upload_interval``,
    ``max_retries``, ``timeout``, ``proxies``, ``on_error``...). Log records that are not
    events are skipped. When the client's queue is full, ``export`` waits for room (it runs on
    a batch processor's thread, never the application's), so the batch processor's bounded
    buffer holds the overflow; batches the client finally gives up on are counted as
    ``dropped.SegmentLogExporter`` and logged.
    """

    def __init__(self, write_key: str | None = None, host: str | None = None, **client_options: Any) -> None:
        segment = _segment_module()
        write_key = write_key or config.text(config.SEGMENT_WRITE_KEY, "")
        if not write_key:
            raise ImproperlyConfigured(
                f"Segment: no write key; pass write_key or set {config.SEGMENT_WRITE_KEY} to the source's write key."
            )
        host = host or config.text(config.SEGMENT_HOST, "") or None
        self._user_on_error: Callable[[Exception, list[Any]], None] | None = client_options.pop("on_error", None)
        client_options.setdefault("gzip", True)
        try:
            self.client = segment.Client(write_key, host=host, on_error=self._on_error, **client_options)
        except (TypeError, ValueError, AssertionError) as error:
            raise ImproperlyConfigured(f"Segment: bad client option: {error}") from error
        self._stopping = threading.Event()
        # The client's exit hook stops its thread without posting what is queued, and it runs
        # before the hook of a LoggerProvider made earlier, whose shutdown still exports to this
        # exporter. Post what is queued at exit instead; stopping the thread is shutdown()'s job.
        atexit.unregister(self.client.join)
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _on_error(self, error: Exception, batch: list[Any]) -> None:
        diagnostics.count("dropped.SegmentLogExporter", len(batch))
        diagnostics.warn("dropped", "SegmentLogExporter", "Segment's client dropped %d event(s): %s", len(batch), error)
        if self._user_on_error is not None:
            self._user_on_error(error, batch)

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        for record in batch:
            event = event_of(record)
            if event is None:
                continue
            while not enqueue(self.client, event):
                if self._stopping.wait(_QUEUE_POLL_SECONDS):
                    return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until the client has posted what it was given, for at most ``timeout_millis``."""
        return wait_for_delivery(self.client, timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = 10000) -> None:
        """Post what is queued (for at most ``timeout_millis``), then stop the client's thread."""
        self._stopping.set()
        if not self.force_flush(timeout_millis):
            LOG.warning("Segment: %d event(s) still queued at shutdown", self.client.queue.unfinished_tasks)
        if self.client.consumers:  # None in the client's sync_mode
            self.client.join()


def _flush_at_exit(exporter_ref: weakref.ref[SegmentLogExporter]) -> None:
    exporter = exporter_ref()
    if exporter is not None and not exporter._stopping.is_set():
        exporter.force_flush(_EXIT_FLUSH_MILLIS)
