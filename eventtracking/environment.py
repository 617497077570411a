"""Build the default tracker's exporters from ``EVENTTRACKING_EXPORTERS``.

The variable is a comma-separated list of names in the ``opentelemetry_logs_exporter``
entry-point group, the same names ``OTEL_LOGS_EXPORTER`` takes: ``eventtracking_logger``,
``otlp``, ``console`` and those of the installed extras. Unset, it means nothing when a global
OTel LoggerProvider with processors is set (events go to its exporters), and
``eventtracking_logger`` otherwise, so that events are never lost for lack of setup
(``opentelemetry-instrument`` sets a global provider even when ``OTEL_LOGS_EXPORTER`` names none).
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
        raise _unknown([name], setting)
    try:
        return found[0].load()()
    except ImproperlyConfigured:
        raise
    except Exception as error:
        raise ImproperlyConfigured(f"{setting}: log exporter {name!r} could not be created: {error}") from error


def exporter_names(global_provider: Any = None) -> list[str]:
    """The names ``EVENTTRACKING_EXPORTERS`` gives, or the default for ``global_provider``."""
    names = config.names(config.EXPORTERS)
    if names is not None:
        return names
    processors = getattr(getattr(global_provider, "_multi_log_record_processor", None), "_log_record_processors", ())
    exports = global_provider is not None and (processors is None or len(processors) > 0)
    return [] if exports else [DEFAULT_EXPORTER]


def check_exporter_names(global_provider: Any = None) -> None:
    """Fail now, naming the variable, if ``EVENTTRACKING_EXPORTERS`` names an unknown exporter."""
    known = {point.name for point in entry_points(group=EXPORTER_GROUP)}
    unknown = [name for name in exporter_names(global_provider) if name not in known]
    if unknown:
        raise _unknown(unknown, config.EXPORTERS)


def _unknown(names: list[str], setting: str) -> ImproperlyConfigured:
    known = sorted({point.name for point in entry_points(group=EXPORTER_GROUP)})
    listed = ", ".join(map(repr, names))
    return ImproperlyConfigured(f"{setting}: no log exporter named {listed}; installed: {', '.join(known)}.")


def exporters(*, global_provider: Any = None) -> dict[str, Any]:
    """The exporters that ``EVENTTRACKING_EXPORTERS`` names, by name."""
    return {name: load_exporter(name) for name in exporter_names(global_provider)}
