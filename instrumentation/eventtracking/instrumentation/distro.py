"""Set up event tracking from environment variables under ``opentelemetry-instrument``.

``EventTrackingDistro`` (entry point ``eventtracking`` in ``opentelemetry_distro``) gives the
defaults of OTel's own distro (OTLP for traces, metrics and logs, unless ``OTEL_*_EXPORTER`` says
otherwise) and selects ``EventTrackingConfigurator`` (entry point ``eventtracking`` in
``opentelemetry_configurator``), which:

* initializes the OTel SDK from the ``OTEL_*`` variables, as OTel's own configurator does, but puts
  the exporters of ``OTEL_LOGS_EXPORTER`` behind ``EventBatchProcessor`` (retries within a bounded
  buffer, no per-record copy) instead of the stock batch processor;
* guards the global propagator, so only the context keys of ``EVENTTRACKING_PROPAGATE_KEYS`` leave
  the process (``eventtracking.propagation``);
* checks ``EVENTTRACKING_EXPORTERS`` now, so a wrong name fails at start-up rather than at the
  first event. The default tracker itself is made on first use, after any fork of a pre-forking
  server, so that its exporters' connections belong to the worker.

To combine with another distro, keep that distro for its defaults and choose this configurator:
``OTEL_PYTHON_DISTRO=<other> OTEL_PYTHON_CONFIGURATOR=eventtracking``.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import _logs
from opentelemetry.environment_variables import OTEL_LOGS_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.environment_variables import OTEL_EXPORTER_OTLP_PROTOCOL

from eventtracking import environment, propagation
from eventtracking.batching import EventBatchProcessor

CONFIGURATOR_NAME = "eventtracking"


class EventTrackingConfigurator(_OTelSDKConfigurator):
    """OTel SDK set-up from the environment, with event tracking's batching and propagation rules."""

    def _configure(self, **kwargs: Any) -> None:
        kwargs.setdefault("export_log_record_processor", EventBatchProcessor)
        super()._configure(**kwargs)
        propagation.guard_global_propagator()
        environment.check_exporter_names(_logs.get_logger_provider())


class EventTrackingDistro(BaseDistro):
    """OTel's default exporters, and this package's configurator."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "otlp")
        os.environ.setdefault(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, CONFIGURATOR_NAME)
