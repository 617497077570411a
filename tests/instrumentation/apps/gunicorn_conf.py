"""gunicorn settings for the server tests: a probe event before each request, and the instrumentors when asked.

The probe is emitted by the worker that then serves the request, before the request reaches the
app: its context shows what the previous request left behind on that worker, which must be
nothing. With ``EVENTTRACKING_TEST_INSTRUMENT=code`` the worker applies the instrumentors in
code, as an application would at start-up, instead of relying on ``opentelemetry-instrument``.
"""

import os
from typing import Any

from eventtracking import tracker

workers = 1
worker_class = "sync"
timeout = 30
control_socket_disable = True  # its default path is shared by every gunicorn on the machine


def post_fork(server: Any, worker: Any) -> None:
    if os.environ.get("EVENTTRACKING_TEST_INSTRUMENT") == "code":
        from eventtracking.instrumentation.django import EventTrackingDjangoInstrumentor
        from eventtracking.instrumentation.flask import EventTrackingFlaskInstrumentor

        EventTrackingDjangoInstrumentor().instrument()
        EventTrackingFlaskInstrumentor().instrument()


def pre_request(worker: Any, req: Any) -> None:
    tracker.emit("probe.request_started", {"path": req.path})
