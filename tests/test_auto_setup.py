"""opentelemetry-instrument with this package's distro and configurator, from environment variables only.

opentelemetry-instrument applies the Django and Flask instrumentors in every process where the
framework is installed, a plain script included; their ``instrument()`` describes the request
context, so the process writes that context's metadata record once, next to its events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eventtracking.instrumentation.request_context import REQUEST_CONTEXT

from eventtracking.registry import METADATA_EVENT_NAME

SCRIPT = """
import logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
from opentelemetry import _logs, trace
from eventtracking import tracker
provider = _logs.get_logger_provider()
processors = provider._multi_log_record_processor._log_record_processors
print("PROCESSORS", [type(p).__name__ for p in processors])
with trace.get_tracer("app").start_as_current_span("work") as span:
    with tracker.get_tracker().context("job", {"job_id": 7}):
        tracker.emit("job.done", {"ok": True})
    print("TRACE", format(span.get_span_context().trace_id, "032x"))
tracker.get_tracker().flush()
provider.force_flush()
"""


def run_instrumented(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "EVENTTRACKING_"))}
    env.update({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", **extra_env})
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.run(
        [str(instrument), sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def events_in(stdout: str) -> list[dict]:
    """The events logged, after checking that the only other line is the request context's metadata record."""
    prefix = "eventtracking.events "
    logged = [json.loads(line.removeprefix(prefix)) for line in stdout.splitlines() if line.startswith(prefix)]
    metadata = [record for record in logged if record["name"] == METADATA_EVENT_NAME]
    assert [record["data"] for record in metadata] == [REQUEST_CONTEXT.as_data()]
    return [record for record in logged if record["name"] != METADATA_EVENT_NAME]


def test_distro_sets_up_the_sdk_with_event_batching_and_events_carry_the_trace():
    result = run_instrumented({"OTEL_PYTHON_DISTRO": "eventtracking", "OTEL_LOGS_EXPORTER": "eventtracking_logger"})
    assert result.returncode == 0, result.stderr
    assert "PROCESSORS ['EventBatchProcessor']" in result.stdout
    (event,) = events_in(result.stdout)
    assert (event["name"], event["context"], event["data"]) == ("job.done", {"job_id": 7}, {"ok": True})
    assert "context_type_id" not in event  # emitted outside any request


def test_configurator_combines_with_another_distro_and_default_tracker_exports_when_otel_logs_are_off():
    result = run_instrumented(
        {"OTEL_PYTHON_DISTRO": "distro", "OTEL_PYTHON_CONFIGURATOR": "eventtracking", "OTEL_LOGS_EXPORTER": "none"}
    )
    assert result.returncode == 0, result.stderr
    assert "PROCESSORS []" in result.stdout
    (event,) = events_in(result.stdout)
    assert event["name"] == "job.done"


def test_a_wrong_exporter_name_is_reported_at_start_up():
    result = run_instrumented(
        {"OTEL_PYTHON_DISTRO": "eventtracking", "OTEL_LOGS_EXPORTER": "none", "EVENTTRACKING_EXPORTERS": "nope"}
    )
    first_line_of_app_output = result.stdout.splitlines()[0]
    assert first_line_of_app_output.startswith("PROCESSORS")
    assert "EVENTTRACKING_EXPORTERS: no log exporter named 'nope'" in result.stderr
