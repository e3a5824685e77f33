"""A real local OTLP receiver: OTLP/HTTP protobuf (/v1/traces, /v1/metrics) or OTLP/gRPC.

What an OpenTelemetry collector (or Container Apps' managed agent) does first: decode the
`ExportTraceServiceRequest` / `ExportMetricsServiceRequest` the SDK's exporter sends. The spans
and metric names are kept for the test to read.
"""

from __future__ import annotations

import gzip
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import (
    MetricsServiceServicer,
    add_MetricsServiceServicer_to_server,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from devtools.threaded_http import ThreadedHttpServer

__all__ = ["OtlpReceiver", "ReceivedSpan"]


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in items}


@dataclass
class OtlpReceiver:
    grpc: bool = False
    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    content_types: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: ThreadedHttpServer | None = None
    _grpc_server: Any = None
    _grpc_port: int = 0

    @property
    def endpoint(self) -> str:
        if self.grpc:
            return f"http://127.0.0.1:{self._grpc_port}"
        assert self._http is not None, "the receiver is not running"
        return self._http.base_url

    def start(self) -> Self:
        if self.grpc:
            return self._start_grpc()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with receiver._lock:
                    receiver.content_types.add(self.headers.get("Content-Type", ""))
                if self.path == "/v1/traces":
                    receiver._traces(body)
                    answer = ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    receiver._metrics(body)
                    answer = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadedHttpServer(Handler, "otlp-receiver")
        return self

    def _start_grpc(self) -> Self:
        import grpc

        receiver = self

        class Traces(TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:
                receiver._traces(request)
                return ExportTraceServiceResponse()

        class Metrics(MetricsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> ExportMetricsServiceResponse:
                receiver._metrics(request)
                return ExportMetricsServiceResponse()

        server = grpc.server(ThreadPoolExecutor(max_workers=2))
        add_TraceServiceServicer_to_server(Traces(), server)
        add_MetricsServiceServicer_to_server(Metrics(), server)
        self._grpc_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc_server = server
        self.content_types.add("application/grpc")
        return self

    def _traces(self, body: bytes | ExportTraceServiceRequest) -> None:
        request = (
            body
            if isinstance(body, ExportTraceServiceRequest)
            else ExportTraceServiceRequest.FromString(body)
        )
        received = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def _metrics(self, body: bytes | ExportMetricsServiceRequest) -> None:
        request = (
            body
            if isinstance(body, ExportMetricsServiceRequest)
            else ExportMetricsServiceRequest.FromString(body)
        )
        with self._lock:
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        self.metrics.setdefault(metric.name, []).append(metric)

    def stop(self) -> None:
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None)
            self._grpc_server = None
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
