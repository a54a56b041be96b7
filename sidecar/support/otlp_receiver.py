"""An in-process OTLP/gRPC trace receiver (opentelemetry-proto's TraceService) for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    service: str  # resource service.name
    name: str
    trace_id: str  # hex
    span_id: str
    parent_span_id: str  # "" for a root span
    kind: int  # opentelemetry.proto Span.SpanKind: 2 SERVER, 3 CLIENT
    attributes: dict[str, Any]


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


class _Service(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any) -> Any:
        spans: list[ReceivedSpan] = []
        for rs in request.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    span = ReceivedSpan(
                        service=str(resource.get("service.name", "")), name=s.name,
                        trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_span_id=s.parent_span_id.hex(),
                        kind=s.kind, attributes={a.key: _value(a.value) for a in s.attributes},
                    )  # fmt: skip
                    spans.append(span)
        with self._receiver.lock:
            self._receiver.spans.extend(spans)
            self._receiver.requests += 1
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    """Collects every exported span; `address` is host:port for a sidecar's tracing.otlp_endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Service(self), self._server)  # type: ignore[no-untyped-call]
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def start(self) -> OtlpReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(0).wait(5)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)

    def wait_for(self, n: int, timeout: float = 20.0, name: str | None = None) -> list[ReceivedSpan]:
        """Poll until at least `n` spans (named `name`, if given) arrived, or the deadline passes;
        return those spans."""
        deadline = time.monotonic() + timeout
        while True:
            spans = [s for s in self.snapshot() if name is None or s.name == name]
            if len(spans) >= n or time.monotonic() >= deadline:
                return spans
            time.sleep(0.05)
