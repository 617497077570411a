"""Fixtures shared by the whole suite; each real peer (MongoDB, OTLP, Segment, ...) has its module in tests/peers/."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from eventtracking import diagnostics
from eventtracking import tracker as tracker_module
from eventtracking.registry import Registry
from eventtracking.tracker import Tracker

pytest_plugins: list[str] = ["tests.peers.segment", "tests.peers.otlp", "tests.peers.mongodb", "tests.peers.chromium"]


@pytest.fixture(autouse=True)
def _isolated_state(monkeypatch: pytest.MonkeyPatch):
    """Each test starts on an empty OTel Context, no default tracker, no default types and zeroed counters.

    Modules imported at collection (the examples) register types with the module-level
    ``register``; a default tracker made in a test does not adopt them.
    """
    token = otel_context.attach(otel_context.Context())
    saved_trackers = dict(tracker_module.TRACKERS)
    tracker_module.TRACKERS.clear()
    monkeypatch.setattr(tracker_module, "DEFAULT_TYPES", Registry())
    diagnostics.reset()
    yield
    for tracker in tracker_module.TRACKERS.values():
        tracker.close()
    tracker_module.TRACKERS.clear()
    tracker_module.TRACKERS.update(saved_trackers)
    otel_context.detach(token)


@pytest.fixture
def make_tracker():
    """Build trackers that are closed (flushed, shut down) after the test."""
    made: list[Tracker] = []

    def make(*args, **kwargs) -> Tracker:
        tracker = Tracker(*args, **kwargs)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def otel_logs():
    """A LoggerProvider whose records land in memory: (provider, exporter)."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class MemoryBackend:
    """A backend of the original contract that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def send(self, event: dict) -> None:
        self.events.append(event)


@pytest.fixture
def memory_backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def captured_events(caplog):
    """The JSON lines the logging exporter writes to the ``eventtracking.events`` logger."""
    caplog.set_level(logging.INFO, logger="eventtracking.events")
    return caplog


@pytest.fixture
def global_logger_provider(otel_logs):
    """Install ``otel_logs``'s provider as the global OTel LoggerProvider for one test."""
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.util._once import Once

    provider, exporter = otel_logs
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()
    logs_internal.set_logger_provider(provider)
    yield provider, exporter
    logs_internal._LOGGER_PROVIDER = None
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()


@pytest.fixture
def tracer():
    """A recording SDK tracer (not installed globally) and its in-memory span exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests"), exporter
    provider.shutdown()
