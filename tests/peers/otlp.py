"""Local OTLP logs receivers, over gRPC (grpcio) and HTTP/protobuf, that decode what the real exporter sends.

Both record each ``ExportLogsServiceRequest`` (``requests``) and each log record in it, decoded
to plain Python (``logs``: ``ReceivedLog``), through the same ``OTLPLogsReceiver.record``.
``exporter()`` builds the real ``OTLPLogExporter`` for the receiver's protocol, and ``env()``
the ``OTEL_EXPORTER_OTLP_LOGS_*`` variables that point the SDK's auto-configuration at it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.message import DecodeError
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk._logs.export import LogRecordExporter

from tests.peers.recording import HTTPPeer, Recording, Reply, Request


def decode_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as plain Python: kvlists as dicts, arrays as lists."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    if kind == "array_value":
        return [decode_value(item) for item in value.array_value.values]
    return getattr(value, kind)


def decode_attributes(attributes: list[KeyValue]) -> dict[str, Any]:
    return {attribute.key: decode_value(attribute.value) for attribute in attributes}


@dataclass
class ReceivedLog:
    """One log record as received, with its resource and scope."""

    event_name: str
    body: Any
    attributes: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    time_unix_nano: int
    severity_number: int
    resource: dict[str, Any]
    scope: str


def _decode_logs(request: logs_service_pb2.ExportLogsServiceRequest) -> list[ReceivedLog]:
    logs = []
    for resource_logs in request.resource_logs:
        resource = decode_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                logs.append(
                    ReceivedLog(
                        event_name=record.event_name,
                        body=decode_value(record.body),
                        attributes=decode_attributes(record.attributes),
                        trace_id=record.trace_id.hex() or None,
                        span_id=record.span_id.hex() or None,
                        time_unix_nano=record.time_unix_nano,
                        severity_number=record.severity_number,
                        resource=resource,
                        scope=scope_logs.scope.name,
                    )
                )
    return logs


class OTLPLogsReceiver(ABC):
    """What a receiver got: the requests and their decoded log records."""

    protocol = ""

    def __init__(self) -> None:
        self.requests = Recording()
        self.logs = Recording()

    def record(self, request: logs_service_pb2.ExportLogsServiceRequest) -> None:
        self.requests.append(request)
        self.logs.append(*_decode_logs(request))

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where the exporter sends (the URL for OTLP/HTTP, scheme, host and port for gRPC)."""

    @abstractmethod
    def exporter(self) -> LogRecordExporter:
        """The real OTLPLogExporter for this receiver's protocol, pointed at it."""

    def env(self) -> dict[str, str]:
        return {
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": self.protocol,
        }

    @abstractmethod
    def close(self) -> None:
        """Stop serving."""


class GrpcLogsReceiver(OTLPLogsReceiver, logs_service_pb2_grpc.LogsServiceServicer):
    """The OTLP/gRPC ``LogsService`` on a free loopback port."""

    protocol = "grpc"

    def __init__(self) -> None:
        super().__init__()
        self._server = grpc.server(ThreadPoolExecutor(max_workers=2))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(self, self._server)
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def Export(
        self, request: logs_service_pb2.ExportLogsServiceRequest, context: grpc.ServicerContext
    ) -> logs_service_pb2.ExportLogsServiceResponse:
        self.record(request)
        return logs_service_pb2.ExportLogsServiceResponse()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def exporter(self) -> LogRecordExporter:
        return GrpcLogExporter(endpoint=self.endpoint, insecure=True, timeout=5)

    def close(self) -> None:
        self._server.stop(grace=1).wait(5)


class HttpLogsReceiver(OTLPLogsReceiver):
    """OTLP/HTTP with protobuf bodies (gzipped or not) at ``POST /v1/logs`` on a free loopback port."""

    protocol = "http/protobuf"

    def __init__(self) -> None:
        super().__init__()
        self.http = HTTPPeer(self._handle)

    def _handle(self, request: Request) -> Reply:
        if request.path != "/v1/logs":
            return 404, "text/plain", b"no such endpoint"
        if request.headers.get("Content-Type") != "application/x-protobuf":
            raise ValueError(f"unexpected content type {request.headers.get('Content-Type')!r}")
        try:
            self.record(logs_service_pb2.ExportLogsServiceRequest.FromString(request.body))
        except DecodeError as error:
            raise ValueError(f"not an ExportLogsServiceRequest: {error}") from error
        return 200, "application/x-protobuf", logs_service_pb2.ExportLogsServiceResponse().SerializeToString()

    @property
    def endpoint(self) -> str:
        return f"{self.http.url}/v1/logs"

    def exporter(self) -> LogRecordExporter:
        return HttpLogExporter(endpoint=self.endpoint, compression=Compression.Gzip, timeout=5)

    def close(self) -> None:
        self.http.close()


RECEIVERS = {"grpc": GrpcLogsReceiver, "http": HttpLogsReceiver}


@pytest.fixture(params=sorted(RECEIVERS))
def otlp_receiver(request: pytest.FixtureRequest) -> Iterator[OTLPLogsReceiver]:
    """An OTLP logs receiver, once over gRPC and once over HTTP/protobuf."""
    receiver = RECEIVERS[request.param]()
    yield receiver
    receiver.close()


@pytest.fixture
def otlp_grpc_receiver() -> Iterator[GrpcLogsReceiver]:
    receiver = GrpcLogsReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def otlp_http_receiver() -> Iterator[HttpLogsReceiver]:
    receiver = HttpLogsReceiver()
    yield receiver
    receiver.close()
