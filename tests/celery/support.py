"""The Celery side of the tests: a real worker (a subprocess) on Redis, and the producing side in this process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, _state

from eventtracking.django import DjangoTracker
from tests.celery import worker_config
from tests.django_app.support import tracking_settings

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20
STOP_TIMEOUT = 15


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Worker:
    """A ``celery worker`` serving one queue, writing its logs and its backends' files to ``out_dir``."""

    def __init__(self, out_dir: Path, pool: str) -> None:
        self.out_dir = out_dir
        self.queue = f"eventtracking-test-{uuid.uuid4().hex}"
        self.log = out_dir / "worker.log"
        command = [sys.executable, "-m", "celery", "-A", "tests.celery.worker_app", "worker"]
        command += ["--pool", pool, "--concurrency", "1", "-Q", self.queue, "-n", f"{self.queue}@localhost"]
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO"]
        env = {
            **os.environ,
            **worker_config.worker_environment(out_dir, self.queue),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._ready, START_TIMEOUT, f"the worker to start (log: {self.log})")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"The worker exited with {self.process.returncode}:\n{self.log_text()}")
        return f"{self.queue}@localhost ready." in self.log_text()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def lines(self, name: str) -> list[str]:
        """The lines of the file ``name`` that the worker's backends write."""
        path = self.out_dir / name
        return path.read_text().splitlines() if path.exists() else []

    def records(self, name: str, marker: str) -> list[dict[str, Any]]:
        """The attempts that a FlakyBackend wrote to ``name`` for the events marked ``marker``."""
        return [record for record in map(json.loads, self.lines(name)) if record["marker"] == marker]

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL to the worker's own process group if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT)


@contextmanager
def current_celery_app(config: dict[str, Any]) -> Iterator[Celery]:
    """A Celery app that ``send_event.delay`` uses in this process (current and default) for the block."""
    app = Celery("eventtracking-test-producer", set_as_current=False)
    app.conf.update(config)
    previous_current, previous_default = getattr(_state._tls, "current_app", None), _state.default_app
    app.set_current()
    app.set_default()
    try:
        yield app
    finally:
        _state._set_current_app(previous_current)
        _state.set_default_app(previous_default)
        app.close()


@contextmanager
def django_tracker(backends: dict[str, Any]) -> Iterator[DjangoTracker]:
    """A DjangoTracker built from ``backends`` as EVENT_TRACKING_BACKENDS, closed after the block."""
    with tracking_settings(EVENT_TRACKING_BACKENDS=backends):
        built = DjangoTracker()
    try:
        yield built
    finally:
        built.close()


@contextmanager
def producer_for(worker: Worker) -> Iterator[DjangoTracker]:
    """The test process's side of ``worker``: its Celery app and a DjangoTracker with its settings."""
    with (
        current_celery_app(worker_config.celery_config(worker.queue)),
        django_tracker(worker_config.tracking_backends(worker.out_dir)) as built,
    ):
        yield built
