"""Fixtures for the instrumentor tests: a tracker that keeps events, the instrumentors, OTel spans in memory."""

from __future__ import annotations

import pytest
from eventtracking.instrumentation.django import EventTrackingDjangoInstrumentor
from eventtracking.instrumentation.flask import EventTrackingFlaskInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from eventtracking.tracker import Tracker, register_tracker
from tests.instrumentation.support import EventBackend


@pytest.fixture
def events(make_tracker) -> EventBackend:
    """The default tracker for the test; what it emits lands in the returned backend."""
    backend = EventBackend()
    tracker: Tracker = make_tracker(backends={"memory": backend})
    register_tracker(tracker)
    return backend


@pytest.fixture
def flask_instrumented():
    instrumentor = EventTrackingFlaskInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def django_instrumented():
    instrumentor = EventTrackingDjangoInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def spans():
    """A TracerProvider (not global) whose spans land in memory: (provider, exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()
