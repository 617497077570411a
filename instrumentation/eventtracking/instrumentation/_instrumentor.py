"""What the Django and Flask instrumentors share."""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor


class FrameworkInstrumentor(BaseInstrumentor):
    """A ``BaseInstrumentor`` that checks its framework's version range under ``opentelemetry-instrument`` too.

    ``opentelemetry-instrument`` checks a distribution's ``instruments`` extra, then tells each
    instrumentor to skip its own check. This distribution ships two instrumentors for two
    frameworks and so declares no such extra: each checks its own range instead, and a
    conflict is raised to ``opentelemetry-instrument``, which logs it (at debug level when the
    framework is not installed) and goes on without that instrumentor.
    """

    def instrument(self, **kwargs: Any) -> Any:
        """Instrument the framework; see ``BaseInstrumentor.instrument``."""
        if kwargs.pop("skip_dep_check", False):
            kwargs.setdefault("raise_exception_on_conflict", True)
        return super().instrument(**kwargs)
