"""Tracing: a span per call (server span on inbound listeners, client span on outbound ones).

The span's parent comes from the caller's `traceparent` (or B3) metadata; the forwarded call
carries a `traceparent` naming this hop, so the next hop's span becomes its child. Sampling is
parent-based with a trace-id ratio for new traces. Calls that are not sampled never touch the
OpenTelemetry SDK: the decision is taken here from the trace id (the same rule the SDK's
TraceIdRatioBased sampler applies) and only fresh ids are propagated, so 1% sampling costs a few
µs per call. When tracing is off this layer is not in the stack at all.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from opentelemetry.trace import SpanKind
from opentelemetry.trace import Status as SpanStatus
from opentelemetry.trace import StatusCode as SpanCode

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import Request, Response, Service
from sidecar.telemetry.registry import Series
from sidecar.telemetry.tracing import Tracing, context_of, inject, inject_ids, parent

log = logging.getLogger("apex.access")

# Server spans mark only these as errors (OTel gRPC semantic conventions); client spans mark any non-OK.
SERVER_ERRORS = frozenset(
    {Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS}
)


def _log_call(call: CallDescriptor, route: str, code: Code, trace_id: int, span_id: int) -> None:
    log.debug(
        "%s %s -> %s", call.listener, call.method, code.name,
        extra={"trace_id": f"{trace_id:032x}", "span_id": f"{span_id:016x}", "route": route, "code": code.name,
               "principal": call.principal},
    )  # fmt: skip


class Trace:
    """Open a span per sampled call through `route` and propagate ids for every call; each sampled
    call is offered to the route's `series` as an exemplar (its trace id, latency and status)."""

    name = "trace"

    def __init__(self, tracing: Tracing, inbound: bool, route: str, cluster: str, series: Series | None = None) -> None:
        self.tracing = tracing
        self.inbound = inbound
        self.route = route
        self.cluster = cluster
        self.series = series

    def __call__(self, inner: Service) -> Service:
        tracing, inbound, route, cluster, series = self.tracing, self.inbound, self.route, self.cluster, self.series
        kind = SpanKind.SERVER if inbound else SpanKind.CLIENT
        tracer, id_source = tracing.tracer, tracing.ids

        async def trace(request: Request) -> Response:
            call = request.call
            remote = parent(call.metadata)
            # 1. Decide: a caller's flag wins; a new trace is sampled by its trace id's low 64 bits.
            if remote is None:
                trace_id = id_source.generate_trace_id()
                sampled = tracing.sampled_root(trace_id)
            else:
                trace_id, sampled = remote.trace_id, remote.sampled
            if not sampled:
                # 2a. Not sampled: no span; propagate a fresh span id with the sampled flag off.
                span_id = id_source.generate_span_id()
                state = remote.tracestate if remote is not None else ""
                request.call = replace(call, metadata=inject_ids(call.metadata, trace_id, span_id, False, state))
                if log.isEnabledFor(logging.DEBUG):
                    request.on_finish(lambda status: _log_call(call, route, status.code, trace_id, span_id))
                return await inner(request)
            # 2b. Sampled: a real SDK span, child of the remote parent (or a root with our trace id).
            if remote is None:
                id_source.prime(trace_id)
            rpc_service, _, rpc_method = call.method[1:].rpartition("/")
            attributes = {
                "rpc.system": "grpc",
                "rpc.service": rpc_service,
                "rpc.method": rpc_method,
                "apex.route": route,
                "apex.cluster": cluster,
                "apex.listener": call.listener,
            }
            if inbound and call.peer:
                attributes["network.peer.address"] = call.peer
            if call.principal:  # the caller's SPIFFE ID under mTLS (docs/security.md)
                attributes["apex.peer.principal"] = call.principal
            elif call.authority:
                attributes["server.address"] = call.authority
            context = None if remote is None else context_of(remote)
            span = tracer.start_span(call.method[1:], context=context, kind=kind, attributes=attributes)
            span_context = span.get_span_context()
            request.call = replace(call, metadata=inject(call.metadata, span_context))
            started = time.perf_counter()

            def finished(status: Status) -> None:
                if span.is_recording():
                    span.set_attribute("rpc.grpc.status_code", int(status.code))
                    if status.code is not Code.OK and (not inbound or status.code in SERVER_ERRORS):
                        span.set_status(SpanStatus(SpanCode.ERROR, status.details))
                span.end()
                if series is not None:
                    series.exemplar(
                        f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}", call.method, status.code,
                        time.perf_counter() - started, time.time(),
                    )  # fmt: skip
                if log.isEnabledFor(logging.DEBUG):
                    _log_call(call, route, status.code, span_context.trace_id, span_context.span_id)

            request.on_finish(finished)
            return await inner(request)

        return trace
