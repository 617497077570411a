"""A local stand-in for Segment's HTTP tracking API that records the batches the real client posts.

It speaks the part of the API ``segment-analytics-python`` uses: ``POST /v1/batch`` with a JSON
body (gzipped or not) and the write key as the Basic auth user name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.peers.recording import HTTPPeer, Recording, Reply, Request


@dataclass
class Batch:
    """One accepted ``/v1/batch`` call."""

    write_key: str
    payload: dict[str, Any]
    gzipped: bool
    retry_count: int

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.payload["batch"]


def _write_key(request: Request) -> str:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        raise ValueError("no Basic authorization")
    user, _, _password = base64.b64decode(credentials).decode().partition(":")
    return user


class SegmentAPI:
    """The server (``url``), every request it saw (``http.requests``), the batches it accepted and their messages."""

    def __init__(self) -> None:
        self.batches = Recording()
        self.messages = Recording()
        self.http = HTTPPeer(self._handle)

    @property
    def url(self) -> str:
        return self.http.url

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/batch":
            return 404, "application/json", b'{"code": "not_found", "message": "no such endpoint"}'
        payload = json.loads(request.body)
        batch = Batch(_write_key(request), payload, request.gzipped, int(request.headers.get("X-Retry-Count", 0)))
        self.batches.append(batch)
        self.messages.append(*batch.messages)
        return 200, "application/json", b'{"success": true}'


@pytest.fixture
def segment_api() -> Iterator[SegmentAPI]:
    """A Segment API server on a free loopback port."""
    api = SegmentAPI()
    yield api
    api.http.close()
