"""Build the default tracker's exporters from ``EVENTTRACKING_EXPORTERS``.

The variable is a comma-separated list of names in the ``opentelemetry_logs_exporter``
entry-point group, the same names ``OTEL_LOGS_EXPORTER`` takes: ``eventtracking_logger``,
``otlp``, ``console`` and those of the installed extras. Unset, it means
``eventtracking_logger`` when no global OTel LoggerProvider is set (so that events are never
lost for lack of setup) and nothing when one is (events then go to its exporters).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.util._importlib_metadata import entry_points

from eventtracking import config
from eventtracking.exceptions import ImproperlyConfigured

EXPORTER_GROUP = "opentelemetry_logs_exporter"
DEFAULT_EXPORTER = "eventtracking_logger"


def load_exporter(name: str, setting: str = config.EXPORTERS) -> Any:
    """An instance of the log exporter registered under ``name``."""
    found = list(entry_points(group=EXPORTER_GROUP, name=name))
    if not found:
        known = sorted({point.name for point in entry_points(group=EXPORTER_GROUP)})
        raise ImproperlyConfigured(f"{setting}: no log exporter named {name!r}; installed: {', '.join(known)}.")
    try:
        return found[0].load()()
    except ImproperlyConfigured:
        raise
    except Exception as error:
        raise ImproperlyConfigured(f"{setting}: log exporter {name!r} could not be created: {error}") from error


def exporters(*, has_global_provider: bool) -> dict[str, Any]:
    """The exporters that ``EVENTTRACKING_EXPORTERS`` names, by name."""
    names = config.names(config.EXPORTERS)
    if names is None:
        names = [] if has_global_provider else [DEFAULT_EXPORTER]
    return {name: load_exporter(name) for name in names}
