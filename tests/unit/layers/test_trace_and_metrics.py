"""The trace and metrics layers around an in-process inner service (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Request, Response, stack
from sidecar.layers import metrics, trace
from sidecar.telemetry import prometheus, tracing
from sidecar.telemetry.registry import MAX_FAILED_EXEMPLARS, MAX_METHODS, OTHER_METHOD, Registry
from sidecar.telemetry.settings import Tracing as TracingSettings


class Inner:
    """Records the metadata each call was forwarded with; answers with `status`."""

    def __init__(self, status: Code = Code.OK) -> None:
        self.forwarded: list[Metadata] = []
        self.status = status

    async def __call__(self, request: Request) -> Response:
        self.forwarded.append(request.call.metadata)
        async for _ in request.messages:
            pass
        return BufferedResponse(Status(self.status, "boom" if self.status else ""), [b"0123456789"])


async def messages(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def call_through(service, metadata: Metadata = (), body: bytes = b"abc", method: str = "/pkg.Svc/Do") -> Status:  # type: ignore[no-untyped-def]
    call = CallDescriptor(method, "svc", metadata, None, "outbound", "ipv4:10.0.0.1:1")
    request = Request(call, messages(body))
    response = await service(request)
    while await response.read() is not None:
        pass
    status: Status = await response.status()
    request.finish(status)
    return status


def setup(percent: float, seed: int = 3) -> tuple[tracing.Tracing, InMemorySpanExporter, object]:
    exporter = InMemorySpanExporter()
    settings = TracingSettings(enabled=True, sampling_percent=percent, id_seed=seed, schedule_delay=0.01)
    provider, _, tr = tracing.provider(settings, "svc", "svc-1", exporter)
    return tr, exporter, provider


def test_sampled_call_gets_a_client_span_and_forwards_its_id() -> None:
    tr, exporter, provider = setup(100.0)
    inner = Inner(Code.UNAVAILABLE)
    service = stack([trace.Trace(tr, False, "r", "c")], inner)
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    asyncio.run(call_through(service, (("traceparent", parent), ("tracestate", "a=1"), ("x", "y"))))
    provider.force_flush()  # type: ignore[attr-defined]
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.CLIENT and span.name == "pkg.Svc/Do"
    assert span.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert span.parent is not None and span.parent.span_id == 0x00F067AA0BA902B7
    assert span.attributes["rpc.grpc.status_code"] == Code.UNAVAILABLE
    assert not span.status.is_ok
    forwarded = dict(inner.forwarded[0])
    assert forwarded["traceparent"] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"
    assert forwarded["tracestate"] == "a=1" and forwarded["x"] == "y"


def test_unsampled_calls_make_no_span_but_still_propagate_fresh_ids() -> None:
    tr, exporter, provider = setup(0.0)
    inner = Inner()
    service = stack([trace.Trace(tr, True, "r", "c")], inner)
    asyncio.run(call_through(service))
    asyncio.run(call_through(service, (("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),)))
    provider.force_flush()  # type: ignore[attr-defined]
    assert exporter.get_finished_spans() == ()
    root, child = (tracing.parse_traceparent(str(dict(md)["traceparent"])) for md in inner.forwarded)
    assert root is not None and root[2] == 0
    assert child is not None and child[0] == 0x4BF92F3577B34DA6A3CE929D0E0E4736 and child[2] == 0
    assert child[1] != 0x00F067AA0BA902B7  # this hop's id, not the caller's


def test_root_sampling_follows_the_ratio_and_agrees_with_the_sdk() -> None:
    tr, exporter, provider = setup(25.0, seed=99)
    inner = Inner()
    service = stack([trace.Trace(tr, False, "r", "c")], inner)
    for _ in range(2000):
        asyncio.run(call_through(service))
    provider.force_flush()  # type: ignore[attr-defined]
    spans = exporter.get_finished_spans()
    flagged = [md for md in inner.forwarded if str(dict(md)["traceparent"]).endswith("-01")]
    assert len(spans) == len(flagged)  # every call we flagged sampled has a span, and no other
    assert 400 <= len(spans) <= 600  # 25% of 2000 = 500


def test_metrics_layer_counts_calls_codes_bytes_and_renders_for_prometheus() -> None:
    registry = Registry(clock=lambda: 0.0)
    series = registry.route("outbound", "r", "c")
    ok = stack([metrics.Metrics(series)], Inner())
    failing = stack([metrics.Metrics(series)], Inner(Code.NOT_FOUND))
    for _ in range(3):
        asyncio.run(call_through(ok))
    asyncio.run(call_through(failing, body=b"12345"))
    assert (series.started, series.finished, series.errors, series.in_flight) == (4, 4, 1, 0)
    assert series.codes == {Code.OK: 3, Code.NOT_FOUND: 1}
    assert series.request_bytes == 3 * 3 + 5 and series.response_bytes == 4 * 10
    assert series.latency.count == 4
    registry.count("retries", 2, route=("outbound", "r", "c"))
    families = {f.name: f for f in text_string_to_metric_families(prometheus.render(registry))}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}

    def key(name: str, **extra: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        return name, tuple(sorted({"listener": "outbound", "route": "r", "cluster": "c", **extra}.items()))

    assert samples[key("apex_route_requests_total", method="/pkg.Svc/Do")] == 4
    assert samples[key("apex_route_responses_total", method="/pkg.Svc/Do", code="NOT_FOUND")] == 1
    assert samples[key("apex_route_responses_total", method="/pkg.Svc/Do", code="OK")] == 3
    assert samples[key("apex_route_duration_seconds_count", method="/pkg.Svc/Do")] == 4
    assert samples[key("apex_route_in_flight")] == 0
    assert samples[key("apex_route_policy_decisions_total", decision="retries")] == 2
    assert families["apex_route_duration_seconds"].type == "histogram"


def test_per_method_series_are_capped_and_the_rest_counted_as_other() -> None:
    registry = Registry(clock=lambda: 0.0)
    series = registry.route("outbound", "r", "c")
    service = stack([metrics.Metrics(series)], Inner())
    for i in range(MAX_METHODS + 5):
        asyncio.run(call_through(service, method=f"/pkg.Svc/M{i}"))
    asyncio.run(call_through(service, method="/pkg.Svc/M0"))  # a known method keeps its own series
    assert len(series.methods) == MAX_METHODS + 1
    assert series.methods[OTHER_METHOD].started == 5 and series.methods[OTHER_METHOD].latency.count == 5
    assert series.methods["/pkg.Svc/M0"].started == 2
    samples = {
        (s.name, s.labels.get("method")): s.value
        for f in text_string_to_metric_families(prometheus.render(registry))
        for s in f.samples
    }
    assert samples[("apex_route_requests_total", OTHER_METHOD)] == 5
    total = sum(v for (name, m), v in samples.items() if name == "apex_route_requests_total")
    assert total == series.started == MAX_METHODS + 6  # the per-method samples add up to the route's calls


def test_sampled_calls_become_exemplars_in_windows_and_openmetrics_only() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

    tr, _, _ = setup(100.0)
    registry = Registry(clock=lambda: 0.0)
    series = registry.route("outbound", "r", "c")
    ok = stack([trace.Trace(tr, False, "r", "c", series), metrics.Metrics(series)], Inner())
    failing = stack([trace.Trace(tr, False, "r", "c", series), metrics.Metrics(series)], Inner(Code.UNAVAILABLE))
    asyncio.run(call_through(ok))
    for _ in range(MAX_FAILED_EXEMPLARS + 2):
        asyncio.run(call_through(failing))
    assert len(series.exemplars.failed) == MAX_FAILED_EXEMPLARS  # bounded per window
    assert all(e.code is Code.UNAVAILABLE and len(e.trace_id) == 32 for e in series.exemplars.failed)
    assert " # {" not in prometheus.render(registry)  # plain Prometheus text has no exemplars
    text = prometheus.render(registry, openmetrics=True)
    samples = [s for f in parse_openmetrics(text) for s in f.samples]  # the strict OpenMetrics parser
    failed = [s for s in samples if s.name == "apex_route_responses_total" and s.labels["code"] == "UNAVAILABLE"]
    assert failed[0].exemplar is not None and len(failed[0].exemplar.labels["trace_id"]) == 32  # the latest one
    buckets = [s for s in samples if s.name == "apex_route_duration_seconds_bucket" and s.exemplar is not None]
    assert buckets and all(float(s.labels["le"]) >= s.exemplar.value for s in buckets if s.exemplar is not None)
    slowest, taken = series.exemplars.take()
    assert slowest is not None and len(taken) == MAX_FAILED_EXEMPLARS
    assert series.exemplars.take() == (None, [])  # the next window starts empty
