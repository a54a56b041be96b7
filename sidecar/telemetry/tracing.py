"""OpenTelemetry setup for the sidecar: provider, parent-based ratio sampler, bounded batch export.

Also the metadata side of propagation: W3C `traceparent`/`tracestate` parsed and written by hand
(a few string operations per call), B3 (single `b3` header or `x-b3-*` headers) accepted on input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, Tracer, TraceState

from sidecar.core.call import Metadata
from sidecar.telemetry.settings import Tracing as TracingSettings

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
B3_KEYS = frozenset({"b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"})
PROPAGATION_KEYS = B3_KEYS | {TRACEPARENT, TRACESTATE}
_HEX = frozenset("0123456789abcdef")


class Ids(IdGenerator):
    """Trace and span ids (seeded for reproducible tests, else from OS randomness), with priming.

    The trace layer draws a root call's trace id itself to decide sampling without the SDK; for
    the sampled ones it `prime`s that id so the SDK's next root span uses it (and its ratio
    sampler, a pure function of the id, reaches the same decision).
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed or None)  # None: seeded once from OS randomness, like the SDK's ids
        self._primed = 0

    def prime(self, trace_id: int) -> None:
        self._primed = trace_id

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        primed, self._primed = self._primed, 0
        return primed or self._rng.getrandbits(128) or 1


@dataclass(frozen=True, slots=True)
class Tracing:
    """What the trace layer needs: the SDK tracer, the id source, the root sampling bound."""

    tracer: Tracer
    ids: Ids
    bound: int  # a root trace is sampled when (trace_id & 2^64-1) < bound (TraceIdRatioBased's rule)

    def sampled_root(self, trace_id: int) -> bool:
        return trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < self.bound


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor (export in its own thread, bounded queue), counting what it drops."""

    def __init__(
        self, exporter: SpanExporter, max_queue_size: int, max_export_batch_size: int, delay_ms: float
    ) -> None:
        super().__init__(
            exporter, max_queue_size=max_queue_size, max_export_batch_size=max_export_batch_size,
            schedule_delay_millis=delay_ms,
        )  # fmt: skip
        self.max_queue_size = max_queue_size
        self.ended = 0
        self.dropped = 0

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        self.ended += 1
        queue = getattr(self._batch_processor, "_queue", None)
        if queue is not None and len(queue) >= self.max_queue_size:
            self.dropped += 1  # the SDK's deque drops the oldest span to make room
        super().on_end(span)


def provider(
    settings: TracingSettings, service: str, instance: str, exporter: SpanExporter | None = None
) -> tuple[TracerProvider, CountingBatchSpanProcessor, Tracing]:
    """A TracerProvider sampling `sampling_percent` of new traces (callers' decisions win)."""
    ratio = TraceIdRatioBased(settings.sampling_percent / 100.0)
    sampler = ParentBased(ratio)
    ids = Ids(settings.id_seed)
    resource = Resource.create({"service.name": service, "service.instance.id": instance})
    tp = TracerProvider(sampler=sampler, resource=resource, id_generator=ids)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint
        insecure = not endpoint.startswith("https://")
        exporter = OTLPSpanExporter(endpoint=endpoint, insecure=insecure, timeout=5)
    processor = CountingBatchSpanProcessor(
        exporter, settings.max_queue_size, settings.max_export_batch_size, settings.schedule_delay * 1000
    )
    tp.add_span_processor(processor)
    return tp, processor, Tracing(tp.get_tracer("apex.sidecar"), ids, ratio.bound)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _hex_id(text: str, length: int) -> int:
    text = text.lower()
    if len(text) != length or not _HEX.issuperset(text):
        return 0
    return int(text, 16)


def parse_traceparent(value: str) -> tuple[int, int, int] | None:
    """(trace_id, span_id, flags) from a W3C traceparent header, or None when it is invalid."""
    parts = value.strip().split("-")
    if len(parts) < 4 or parts[0] == "ff" or len(parts[0]) != 2 or (parts[0] == "00" and len(parts) != 4):
        return None
    trace_id, span_id = _hex_id(parts[1], 32), _hex_id(parts[2], 16)
    flags = _hex_id(parts[3][:2], 2) if len(parts[3]) >= 2 else 0
    if not trace_id or not span_id or len(parts[3]) != 2:
        return None
    return trace_id, span_id, flags


def parse_b3(metadata: Metadata) -> tuple[int, int, int] | None:
    """(trace_id, span_id, flags) from B3 single (`b3: t-s-1`) or multi (`x-b3-*`) headers."""
    headers = {k: _text(v) for k, v in metadata if k in B3_KEYS}
    if not headers:
        return None
    if "b3" in headers:
        parts = headers["b3"].strip().split("-")
        if len(parts) < 2:
            return None
        trace_text, span_text = parts[0], parts[1]
        sampled = parts[2] if len(parts) > 2 else ""
    else:
        trace_text, span_text = headers.get("x-b3-traceid", ""), headers.get("x-b3-spanid", "")
        sampled = "d" if headers.get("x-b3-flags") == "1" else headers.get("x-b3-sampled", "")
    trace_id = _hex_id(trace_text.rjust(32, "0"), 32) if len(trace_text) in (16, 32) else 0
    span_id = _hex_id(span_text, 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, 1 if sampled in ("1", "d", "true") else 0


@dataclass(frozen=True, slots=True)
class Parent:
    """A remote parent span read from metadata."""

    trace_id: int
    span_id: int
    sampled: bool
    tracestate: str = ""  # raw W3C tracestate, forwarded as is


def parent(metadata: Metadata) -> Parent | None:
    """The remote parent carried by call metadata (W3C first, then B3), or None."""
    traceparent = tracestate = None
    for key, value in metadata:
        if key == TRACEPARENT:
            traceparent = _text(value)
        elif key == TRACESTATE:
            tracestate = _text(value)
    parsed = parse_traceparent(traceparent) if traceparent is not None else None
    if parsed is not None:
        return Parent(parsed[0], parsed[1], bool(parsed[2] & 1), tracestate or "")
    b3 = parse_b3(metadata)
    return None if b3 is None else Parent(b3[0], b3[1], bool(b3[2] & 1))


def context_of(remote: Parent) -> Context:
    """An OTel Context whose current span is the remote parent."""
    state = TraceState.from_header([remote.tracestate]) if remote.tracestate else None
    flags = TraceFlags(TraceFlags.SAMPLED if remote.sampled else TraceFlags.DEFAULT)
    span = SpanContext(remote.trace_id, remote.span_id, is_remote=True, trace_flags=flags, trace_state=state)
    return trace.set_span_in_context(NonRecordingSpan(span))


def extract(metadata: Metadata) -> Context | None:
    """The remote parent carried by call metadata (W3C first, then B3), as an OTel Context."""
    remote = parent(metadata)
    return None if remote is None else context_of(remote)


def inject_ids(metadata: Metadata, trace_id: int, span_id: int, sampled: bool, tracestate: str = "") -> Metadata:
    """`metadata` with the propagation headers replaced by W3C headers naming (trace_id, span_id)."""
    out: list[tuple[str, str | bytes]] = [(k, v) for k, v in metadata if k not in PROPAGATION_KEYS]
    out.append((TRACEPARENT, f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"))
    if tracestate:
        out.append((TRACESTATE, tracestate))
    return tuple(out)


def inject(metadata: Metadata, context: SpanContext) -> Metadata:
    """`metadata` with the propagation headers replaced by W3C headers for `context`."""
    state = context.trace_state.to_header() if context.trace_state else ""
    return inject_ids(metadata, context.trace_id, context.span_id, context.trace_flags.sampled, state)


def ids(context: SpanContext) -> tuple[str, str]:
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
