"""Through real sidecar processes: `apex admin config` lists every stack by layer name, and the
counters that used to lie (10.g) tell the truth — RouteAdmin requests without a retry policy,
bytes per cluster and endpoint in telemetry windows, cache counters in windows."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.integration.route_helpers import decisions
from tests.support.observed import observed_config, poll, unary, windows
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration

UNARY = "/apex.mesh.v1.Echo/Unary"


def _full_config(upstream: str) -> dict[str, object]:
    config = proxy_config(upstream, service="stacked")
    outbound = config["policy"]["route_tables"][1]["routes"][0]  # type: ignore[index]
    outbound.update(
        rate_limit={"requests_per_second": 1000, "burst": 1000},
        timeout="5s",
        retry={"idempotent_methods": ["*"]},
    )
    echo_cluster = config["policy"]["clusters"][1]  # type: ignore[index]
    echo_cluster.update(limits={"max_requests": 100}, outlier_detection={"consecutive_failures": 5})
    config["policy"]["cache"] = [{"method": UNARY, "listeners": ["outbound"], "ttl": "10s"}]  # type: ignore[index]
    return config


def test_admin_config_lists_each_route_and_cluster_stack_in_order(echo: BackgroundEcho) -> None:
    with SidecarProcess(_full_config(echo.address)) as proc:
        with grpc.insecure_channel(proc["admin"]) as channel:
            dump = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=10)
        text = subprocess.run(
            [sys.executable, "-m", "sidecar", "admin", "--admin", proc["admin"], "config"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    stacks = {(r.listener, r.route): list(r.layers) for r in dump.route_stacks}
    assert stacks[("outbound", "echo")] == [
        "metrics", "deadline", "cache", "rate_limit", "timeout", "retry", "cluster:echo",
    ]  # fmt: skip
    assert stacks[("inbound", "local")] == ["metrics", "deadline", "cluster:local"]
    clusters = {c.name: list(c.layers) for c in dump.clusters}
    assert clusters["echo"] == ["admission", "balancer:round_robin", "outlier", "connector"]
    assert clusters["local"] == ["balancer:round_robin", "connector"]
    assert [list(c.resolved_endpoints) for c in dump.clusters] == [[echo.address], [echo.address]]
    assert "route outbound/echo: metrics → deadline → cache → rate_limit → timeout → retry → cluster:echo" in text
    assert "cluster echo: admission → balancer:round_robin → outlier → connector" in text


def test_routes_count_requests_without_a_retry_policy(echo: BackgroundEcho) -> None:
    """`apex routes` showed requests 0 unless the route had a retry policy (retry/layer.py counted them)."""
    with SidecarProcess(proxy_config(echo.address, service="plain")) as proc:
        unary(proc["outbound"], 6)
        unary(proc["inbound"], 2)
        counters = decisions(proc["admin"])
        text = subprocess.run(
            [sys.executable, "-m", "sidecar", "routes", "--admin", proc["admin"]],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    assert counters["echo"].requests == 6 and counters["local"].requests == 2
    row = next(line.split() for line in text.splitlines() if line.startswith("outbound/echo"))
    assert row[1] == "6"


def test_cluster_and_endpoint_bytes_and_cache_counters_reach_the_windows(echo: BackgroundEcho, redis_url: str) -> None:
    service = "bytes-and-cache"
    config = observed_config(echo.address, service=service, telemetry={"redis_url": redis_url, "window": "200ms"})
    config["policy"]["cache"] = [{"method": UNARY, "listeners": ["outbound"], "ttl": "60s"}]
    with SidecarProcess(config) as proc:
        with grpc.insecure_channel(proc["outbound"]) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            for _ in range(4):  # one miss, then three hits
                stub.Unary(echo_pb2.EchoRequest(payload=b"p" * 100, response_size=1000), timeout=10)
        unary(proc["inbound"], 3)

        def cluster_counter(ws: list, name: str) -> int:  # type: ignore[type-arg]
            return sum(c.stats.counters[name] for w in ws for c in w.clusters if c.name == "echo")

        ws = poll(lambda: windows(redis_url, service), lambda ws: cluster_counter(ws, "cache_hits") >= 3)
    endpoint = [e.stats for w in ws for e in w.endpoints if e.cluster == "echo"]
    cluster = [c.stats for w in ws for c in w.clusters if c.name == "echo"]
    # One call reached the upstream (the miss): its request is a ~100-byte message, its answer ~1000 bytes.
    assert sum(s.calls for s in endpoint) == 1
    assert 100 <= sum(s.request_bytes for s in endpoint) < 200
    assert 1000 <= sum(s.response_bytes for s in endpoint) < 1100
    assert sum(s.request_bytes for s in cluster) == sum(s.request_bytes for s in endpoint)
    assert sum(s.response_bytes for s in cluster) == sum(s.response_bytes for s in endpoint)
    assert cluster_counter(ws, "cache_hits") == 3 and cluster_counter(ws, "cache_misses") == 1
    assert sum(s.request_bytes for w in ws for e in w.endpoints if e.cluster == "local" for s in [e.stats]) > 0


def test_calls_the_caller_cancels_are_counted_as_cancelled(echo: BackgroundEcho) -> None:
    """A unary call (relayed as unary once the kinds are learned) and a stream, both cancelled by the
    caller mid-call, appear in Admin.GetStats as CANCELLED, and nothing stays in flight."""

    async def scenario(target: str) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            await stub.Unary(echo_pb2.EchoRequest(), timeout=10)  # learn the method kinds
            for call in (
                stub.Unary(echo_pb2.EchoRequest(delay_ms=5000), timeout=30),
                stub.ServerStream(echo_pb2.EchoRequest(delay_ms=5000), timeout=30),
            ):
                await asyncio.sleep(0.3)
                call.cancel()

    with SidecarProcess(proxy_config(echo.address, service="cancelling")) as proc:
        asyncio.run(scenario(proc["outbound"]))

        def echo_stats() -> admin_pb2.RouteStats:
            with grpc.insecure_channel(proc["admin"]) as channel:
                stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=10)
            return next(r for r in stats.routes if r.route == "echo")

        route = poll(echo_stats, lambda r: r.in_flight == 0 and r.status_codes["CANCELLED"] == 2)
    assert route.calls == 3 and dict(route.status_codes) == {"OK": 1, "CANCELLED": 2} and route.in_flight == 0
