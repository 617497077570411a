"""The example apps under a real gunicorn, with real HTTP requests, instrumented in code or by opentelemetry-instrument.

Events go to a JSON-lines file through the ``eventtracking_logger`` exporter, configured only by
environment variables. A single sync worker serves every request, and a probe event emitted by
the worker before each request (see apps/gunicorn_conf.py) shows what the previous request left
behind: nothing, even after a view that raised and a streamed response.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.instrumentation.support import BEARER, OTHER_COOKIE, PASSWORD, assert_no_secrets

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = Path(__file__).with_name("apps") / "gunicorn_conf.py"
HASH_KEY = "server-test-session-hash-key"
APPS = {
    "flask": ("examples.flask_app.app:app", "session"),
    "django": ("examples.django_app.wsgi:application", "sessionid"),
}
EXPECTED_EVENTS = 12  # 5 probes, login, failure, 3 stream chunks, 2 page views


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], *, under_otel: bool, log: Path) -> Iterator[str]:
    """Serve ``app`` on a free port; yields its base URL, and stops it afterwards."""
    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", str(CONFIG), "-b", f"127.0.0.1:{port}", app]
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


def read_events(path: Path, count: int, log: Path) -> list[dict]:
    """The events in ``path`` once there are ``count`` of them (they are written by a batching exporter)."""
    deadline = time.monotonic() + 10
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == count, (lines, log.read_text())
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("framework", list(APPS))
@pytest.mark.parametrize(
    ("launch", "trusted_proxies"),
    [("code", "0"), ("opentelemetry-instrument", "1")],
    ids=["instrumented-in-code", "opentelemetry-instrument"],
)
def test_request_context_under_gunicorn(tmp_path, framework, launch, trusted_proxies):
    app, session_cookie = APPS[framework]
    events_file = tmp_path / "events.jsonl"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "EVENTTRACKING_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "examples.django_app.settings",
            "EVENTTRACKING_EXPORTERS": "eventtracking_logger",
            "EVENTTRACKING_LOGGER_FILE": str(events_file),
            "EVENTTRACKING_LOGGER_MAX_EVENT_SIZE": "0",
            "EVENTTRACKING_SCHEDULE_DELAY_MILLIS": "50",
            "EVENTTRACKING_SESSION_HASH_KEY": HASH_KEY,
            "EVENTTRACKING_TRUSTED_PROXY_COUNT": trusted_proxies,
        }
    )
    if launch == "code":
        env["EVENTTRACKING_TEST_INSTRUMENT"] = "code"
    else:  # the stock distro, no code changes: only the entry points apply the instrumentors
        env.update(
            {
                "OTEL_PYTHON_DISTRO": "distro",
                "OTEL_PYTHON_CONFIGURATOR": "configurator",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        )
    browser = {
        "User-Agent": f"server-test/{framework}",
        "Referer": "https://shop.example.com/cart?reset_token=xyz#pay",
        "Accept-Language": "rm-CH",
        "X-Forwarded-For": "203.0.113.9",
        "Authorization": BEARER,
    }
    log = tmp_path / "gunicorn.log"
    with gunicorn(app, env, under_otel=launch != "code", log=log) as url:
        client = requests.Session()
        client.cookies.set("_ga", "GA1.2.555.777")
        client.cookies.set("other", OTHER_COOKIE)
        login = client.post(
            f"{url}/login",
            data={"username": "alice", "password": PASSWORD},
            headers={**browser, "X-Request-ID": "req-1"},
            timeout=10,
        )
        assert login.status_code == 200, log.read_text()
        assert client.get(f"{url}/fail", headers={**browser, "X-Request-ID": "req-2"}, timeout=10).status_code == 500
        streamed = client.get(f"{url}/stream", headers={**browser, "X-Request-ID": "req-3"}, timeout=10)
        assert streamed.text == "chunk 0\nchunk 1\nchunk 2\n"
        session_key = client.cookies[session_cookie]
        assert client.get(f"{url}/", headers={**browser, "X-Request-ID": "req-4"}, timeout=10).ok
        assert requests.get(f"{url}/", timeout=10).ok  # anonymous, no header of ours
        events = read_events(events_file, EXPECTED_EVENTS, log)

    probes = [event for event in events if event["name"] == "probe.request_started"]
    assert [probe["data"]["path"] for probe in probes] == ["/login", "/fail", "/stream", "/", "/"]
    assert [probe["context"] for probe in probes] == [{}] * 5

    by_name: dict[str, list[dict]] = {}
    for event in events:
        by_name.setdefault(event["name"], []).append(event)
    (login_event,) = by_name["demo.user.logged_in"]
    (failure,) = by_name["demo.failure.started"]
    chunks = by_name["demo.stream.chunk"]
    viewed, anonymous = by_name["demo.page.viewed"]

    assert login_event["context"]["request_id"] == "req-1" and "user_id" not in login_event["context"]
    assert (failure["context"]["path"], failure["context"]["request_id"], failure["context"]["username"]) == (
        "/fail",
        "req-2",
        "alice",
    )
    assert [chunk["data"]["number"] for chunk in chunks] == [0, 1, 2]
    assert {(chunk["context"]["path"], chunk["context"]["request_id"]) for chunk in chunks} == {("/stream", "req-3")}
    assert viewed["context"] == {
        "user_id": 1,
        "username": "alice",
        "session": hmac.new(HASH_KEY.encode(), session_key.encode(), hashlib.sha256).hexdigest(),
        "ip": "203.0.113.9" if trusted_proxies == "1" else "127.0.0.1",
        "agent": f"server-test/{framework}",
        "host": url.removeprefix("http://"),
        "path": "/",
        "method": "GET",
        "referer": "https://shop.example.com/cart",
        "accept_language": "rm-CH",
        "client_id": "555.777",
        "request_id": "req-4",
    }
    assert set(anonymous["context"]) == {"ip", "agent", "host", "path", "method", "request_id"}
    assert anonymous["context"]["ip"] == "127.0.0.1"
    assert len(anonymous["context"]["request_id"]) == 32

    recorded = events_file.read_text()
    assert_no_secrets(recorded)
    for secret in (session_key, "reset_token"):
        assert secret not in recorded
