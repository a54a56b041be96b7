"""Spans exported over OTLP/gRPC to a real in-test receiver, through two real sidecar processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest
from apex.mesh.v1 import telemetry_pb2, telemetry_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.otlp_receiver import OtlpReceiver
from tests.support.observed import observed_config, poll, unary
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

SERVER, CLIENT = 2, 3  # OTLP Span.SpanKind
FORCED, REFUSED = "0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319d"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


ECHO_UNARY = "apex.mesh.v1.Echo/Unary"


def tracing(receiver: OtlpReceiver, percent: float = 100.0, **extra: object) -> dict[str, object]:
    return {
        "enabled": True, "sampling_percent": percent, "otlp_endpoint": receiver.address,
        "schedule_delay": "100ms", **extra,
    }  # fmt: skip


@pytest.fixture
def two_hops(echo: BackgroundEcho, receiver: OtlpReceiver) -> Iterator[tuple[SidecarProcess, SidecarProcess]]:
    """Sidecar B in front of Echo; sidecar A's outbound Echo route goes to B's inbound listener."""
    with SidecarProcess(observed_config(echo.address, service="server-b", tracing=tracing(receiver))) as b:
        config_a = observed_config(b["inbound"], service="client-a", tracing=tracing(receiver))
        with SidecarProcess(config_a) as a:
            yield a, b


def test_two_sidecars_share_one_trace_with_parent_child_links(
    two_hops: tuple[SidecarProcess, SidecarProcess], receiver: OtlpReceiver
) -> None:
    a, _ = two_hops
    unary(a["outbound"], 1)
    # (A's one reflection lookup through B is a call too, with spans of its own: filter by name.)
    spans = receiver.wait_for(2, name=ECHO_UNARY)
    assert len(spans) == 2, spans
    client = next(s for s in spans if s.service == "client-a")
    server = next(s for s in spans if s.service == "server-b")
    assert client.kind == CLIENT and server.kind == SERVER
    assert client.trace_id == server.trace_id
    assert client.parent_span_id == ""  # the app sent no traceparent: A starts the trace
    assert server.parent_span_id == client.span_id
    for span in (client, server):
        assert span.name == "apex.mesh.v1.Echo/Unary"
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == "apex.mesh.v1.Echo"
        assert span.attributes["rpc.method"] == "Unary"
        assert span.attributes["rpc.grpc.status_code"] == 0
    assert client.attributes["apex.route"] == "echo" and server.attributes["apex.route"] == "local"


def test_caller_traceparent_and_b3_become_the_parent(
    two_hops: tuple[SidecarProcess, SidecarProcess], receiver: OtlpReceiver
) -> None:
    a, _ = two_hops
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    unary(a["outbound"], 1, metadata=(("traceparent", f"00-{trace_id}-{parent}-01"), ("tracestate", "k=v")))
    spans = receiver.wait_for(2, name=ECHO_UNARY)
    client = next(s for s in spans if s.service == "client-a")
    server = next(s for s in spans if s.service == "server-b")
    assert client.trace_id == server.trace_id == trace_id
    assert client.parent_span_id == parent and server.parent_span_id == client.span_id

    b3_trace, b3_span = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
    unary(a["outbound"], 1, metadata=(("b3", f"{b3_trace}-{b3_span}-1"),))
    spans = receiver.wait_for(4, name=ECHO_UNARY)
    client = next(s for s in spans if s.service == "client-a" and s.trace_id == b3_trace)
    server = next(s for s in spans if s.service == "server-b" and s.trace_id == b3_trace)
    assert client.parent_span_id == b3_span and server.parent_span_id == client.span_id


def test_sampling_ratio_is_honoured_and_parents_decide(echo: BackgroundEcho, receiver: OtlpReceiver) -> None:
    config = observed_config(echo.address, service="sampled", tracing=tracing(receiver, 20.0, id_seed=7))
    proc = SidecarProcess(config).start()
    try:
        unary(proc["outbound"], 400)
        sampled, unsampled = f"00-{FORCED}-b7ad6b7169203331-01", f"00-{REFUSED}-b7ad6b7169203331-00"
        unary(proc["outbound"], 20, metadata=(("traceparent", sampled),))
        unary(proc["outbound"], 20, metadata=(("traceparent", unsampled),))
    finally:
        assert proc.stop() == 0  # shutdown flushes the span queue
        log = proc.log()
        proc.close()
    spans = receiver.snapshot()
    roots = [s for s in spans if s.parent_span_id == ""]
    assert 40 <= len(roots) <= 120, len(roots)  # 20% of 400 = 80 expected
    forced = [s for s in spans if s.trace_id == FORCED]
    assert len(forced) == 20  # a sampled parent is always followed
    assert not [s for s in spans if s.trace_id == REFUSED]
    assert "Traceback" not in log


def test_log_level_changes_at_runtime_and_json_lines_carry_trace_ids(
    echo: BackgroundEcho, receiver: OtlpReceiver
) -> None:
    with SidecarProcess(observed_config(echo.address, service="logs", tracing=tracing(receiver))) as proc:
        with grpc.insecure_channel(proc["admin"]) as channel:
            admin = telemetry_pb2_grpc.ObservabilityAdminStub(channel)
            assert admin.GetLogLevel(telemetry_pb2.GetLogLevelRequest(), timeout=10).level == "INFO"
            assert admin.SetLogLevel(telemetry_pb2.LogLevel(level="debug"), timeout=10).level == "DEBUG"
            with pytest.raises(grpc.RpcError) as bad:
                admin.SetLogLevel(telemetry_pb2.LogLevel(level="loud"), timeout=10)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "loud" in (bad.value.details() or "")
        unary(proc["outbound"], 1)
        spans = receiver.wait_for(1)
        lines = poll(lambda: [json.loads(x) for x in proc.log().splitlines() if x.startswith("{")],
                     lambda ls: any("trace_id" in x for x in ls))  # fmt: skip
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    traced = [x for x in lines if "trace_id" in x]
    assert traced and traced[0]["trace_id"] == spans[0].trace_id and traced[0]["span_id"] == spans[0].span_id
