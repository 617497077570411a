"""Building blocks of the test peers: a thread-safe record of what arrived, and a real HTTP server that fills one."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recording:
    """Items appended by a server thread, and a way for the test to wait until enough have arrived."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._changed = threading.Condition()

    def append(self, *items: Any) -> None:
        with self._changed:
            self._items.extend(items)
            self._changed.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._changed:
            return list(self._items)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The items, once there are at least ``count``; fails the test after ``timeout`` seconds."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._items) >= count, timeout)
            items = list(self._items)
        assert arrived, f"expected at least {count} item(s) within {timeout} s, got {len(items)}: {items!r}"
        return items

    def stays(self, count: int, seconds: float = 0.5) -> list[Any]:
        """The items after ``seconds`` more, asserting that no more than ``count`` ever arrived."""
        time.sleep(seconds)
        items = self.items
        assert len(items) <= count, f"expected at most {count} item(s), got {len(items)}: {items!r}"
        return items


@dataclass
class Request:
    """One HTTP request as the server read it; ``body`` is decompressed when it was sent gzipped."""

    method: str
    path: str
    headers: Message
    body: bytes
    gzipped: bool


Reply = tuple[int, str, bytes]


class HTTPPeer:
    """A real HTTP server on a free loopback port, served by a thread, that records every request.

    ``handle(request)`` returns the reply (status, content type, body) and may raise
    ``ValueError`` for a body it cannot decode (answered with 400). ``fail_next(n, status)``
    makes the next ``n`` requests fail with ``status`` before ``handle`` sees them.
    """

    def __init__(self, handle: Callable[[Request], Reply]) -> None:
        self.requests = Recording()
        self._handle = handle
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-peer", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def _reply(self, request: Request) -> Reply:
        self.requests.append(request)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure, "application/json", b'{"code": "unavailable", "message": "failing on purpose"}'
        try:
            return self._handle(request)
        except ValueError as error:
            return 400, "text/plain", str(error).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gzipped = self.headers.get("Content-Encoding", "").lower() == "gzip"
                if gzipped:
                    body = gzip.decompress(body)
                status, content_type, payload = peer._reply(Request("POST", self.path, self.headers, body, gzipped))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on what was recorded."""

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
