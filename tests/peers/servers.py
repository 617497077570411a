"""Apps under a real gunicorn in a subprocess, and the JSON-lines files their events land in."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = ROOT / "tests" / "instrumentation" / "apps" / "gunicorn_conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any OTEL_ or EVENTTRACKING_ variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "EVENTTRACKING_"))}
    env.update(extra)
    return env


@contextlib.contextmanager
def gunicorn(
    app: str,
    env: dict[str, str],
    *,
    under_otel: bool,
    log: Path,
    port: int | None = None,
    config: Path | None = CONFIG,
) -> Iterator[str]:
    """Serve ``app`` (optionally under ``opentelemetry-instrument``); yields its base URL, stops it afterwards.

    The default ``config`` is the tests' (one sync worker, a probe event before each request).
    """
    port = port or free_port()
    command = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", app]
    if config is not None:
        command[1:1] = ["-c", str(config)]
    if under_otel:
        command.insert(0, str(BIN / "opentelemetry-instrument"))
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert server.poll() is None, log.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def wait_for(read: Callable[[], list[Any]], count: int, what: str, log: Path, timeout: float = 10.0) -> list[Any]:
    """What ``read`` returns once it holds ``count`` items; fails after ``timeout`` seconds, showing ``log``."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) >= count, (what, found, log.read_text())
    return found


def read_events(path: Path, count: int, log: Path) -> list[dict]:
    """The events in ``path`` once there are ``count`` of them (they are written by a batching exporter)."""

    def lines() -> list[str]:
        return path.read_text().splitlines() if path.exists() else []

    found = wait_for(lines, count, f"{count} lines in {path.name}", log)
    assert len(found) == count, (found, log.read_text())
    return [json.loads(line) for line in found]
