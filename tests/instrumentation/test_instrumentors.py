"""The instrumentors as OTel sees them: entry points, framework ranges, the dependency check."""

from __future__ import annotations

from collections.abc import Collection
from importlib.metadata import entry_points
from typing import Any

import pytest
from eventtracking.instrumentation._instrumentor import FrameworkInstrumentor
from eventtracking.instrumentation.django import EventTrackingDjangoInstrumentor
from eventtracking.instrumentation.flask import EventTrackingFlaskInstrumentor
from opentelemetry.instrumentation.dependencies import DependencyConflictError, get_dependency_conflicts


def test_entry_points_name_the_instrumentors():
    found = {point.name: point.load() for point in entry_points(group="opentelemetry_instrumentor")}
    assert found["eventtracking_django"] is EventTrackingDjangoInstrumentor
    assert found["eventtracking_flask"] is EventTrackingFlaskInstrumentor


@pytest.mark.parametrize(
    ("instrumentor", "requirement"),
    [(EventTrackingDjangoInstrumentor, "django >= 4.2"), (EventTrackingFlaskInstrumentor, "flask >= 2.3")],
)
def test_framework_ranges_are_declared_and_met_here(instrumentor, requirement):
    dependencies = instrumentor().instrumentation_dependencies()
    assert list(dependencies) == [requirement]
    assert get_dependency_conflicts(dependencies) is None


class FutureFlaskInstrumentor(FrameworkInstrumentor):
    """Asks for a Flask that does not exist yet."""

    instrumented = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("flask >= 99",)

    def _instrument(self, **kwargs: Any) -> None:
        FutureFlaskInstrumentor.instrumented = True

    def _uninstrument(self, **kwargs: Any) -> None:
        FutureFlaskInstrumentor.instrumented = False


def test_the_range_is_checked_even_when_opentelemetry_instrument_skips_the_check():
    # opentelemetry-instrument calls instrument(skip_dep_check=True) after checking the distribution only.
    with pytest.raises(DependencyConflictError, match="flask >= 99"):
        FutureFlaskInstrumentor().instrument(skip_dep_check=True)
    assert not FutureFlaskInstrumentor.instrumented
    assert not FutureFlaskInstrumentor().is_instrumented_by_opentelemetry


def test_called_by_hand_a_conflict_is_logged_and_nothing_is_instrumented(caplog):
    assert FutureFlaskInstrumentor().instrument() is None
    assert "flask >= 99" in caplog.text
    assert not FutureFlaskInstrumentor.instrumented
