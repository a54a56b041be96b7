"""Each stack is wired as configured: layer names in call order per route and per cluster, and the
chain a call walks is that list (an expired call stops at the deadline layer; counted once by metrics)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import yaml
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.policy.model import Bootstrap
from sidecar.runtime import stack
from sidecar.telemetry import tracing
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.settings import Tracing as TracingSettings

EVERY_ROUTE_LAYER = {
    "name": "full",
    "match": {"service": "p.S"},
    "clusters": [{"cluster": "v1", "weight": 1}, {"cluster": "v2", "weight": 1}],
    "rate_limit": {"requests_per_second": 1000, "burst": 1000},
    "fault": {"abort": {"percent": 0, "code": "UNAVAILABLE"}},
    "timeout": "5s",
    "retry": {"idempotent_methods": ["*"]},
}
EVERY_CLUSTER_LAYER = {
    "name": "v1",
    "endpoints": [{"address": "10.0.0.1:1"}],
    "load_balancer": {"least_request": {}},
    "limits": {"max_requests": 10},
    "adaptive_concurrency": {"max_limit": 50, "reject_code": "UNAVAILABLE", "enforced": False},
    "outlier_detection": {"consecutive_failures": 3},
    "health_check": {"interval": "1s", "timeout": "500ms"},
}


def _bootstrap() -> Bootstrap:
    config: dict[str, Any] = {
        "listeners": [
            {"name": "out", "address": "127.0.0.1:0", "direction": "OUTBOUND"},
            {"name": "in", "address": "127.0.0.1:0", "direction": "INBOUND"},
        ],
        "policy": {
            "route_tables": [
                {
                    "name": "out",
                    "routes": [EVERY_ROUTE_LAYER, {"name": "plain", "match": {"service": "q.T"}, "cluster": "v2"}],
                },
                {"name": "in", "routes": [{"name": "local", "cluster": "v2"}]},
            ],
            "clusters": [EVERY_CLUSTER_LAYER, {"name": "v2", "endpoints": [{"address": "10.0.0.2:1"}]}],
            "cache": [{"method": "/p.S/Get", "listeners": ["out"], "ttl": "10s"}],
        },
    }
    return validate(parse_yaml(yaml.safe_dump(config), "t"), "t")


class Upstream:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, address: str, authority: str, request: Request) -> Response:
        self.calls += 1
        async for _ in request.messages:
            pass
        return BufferedResponse(Status(Code.OK), [b"ok"])


def _measuring_state() -> stack.State:
    settings = TracingSettings(enabled=True, sampling_percent=1.0, id_seed=1)
    state = stack.State(telemetry=Registry(lambda: 0.0), measure=True)
    state.tracer = tracing.provider(settings, "svc", "svc-1", InMemorySpanExporter())[2]
    return state


def test_every_layer_configured_in_the_documented_order() -> None:
    boot = _bootstrap()
    state = _measuring_state()
    stack.build(boot.policy, boot.listeners, state, lambda _transport: Upstream())
    assert state.route_stacks[("out", "full")] == (
        "trace", "metrics", "deadline", "cache", "rate_limit", "fault", "timeout", "retry", "split",
    )  # fmt: skip
    assert state.cluster_stacks["v1"] == (
        "adaptive_concurrency", "admission", "balancer:least_request", "outlier", "health", "endpoint_metrics",
        "connector",
    )  # fmt: skip


def test_routes_and_clusters_without_policy_have_only_their_always_on_layers() -> None:
    boot = _bootstrap()
    state = stack.State()  # no tracing, no /metrics or telemetry
    stack.build(boot.policy, boot.listeners, state, lambda _transport: Upstream())
    assert state.route_stacks[("out", "plain")] == ("metrics", "deadline", "cluster:v2")
    assert state.route_stacks[("in", "local")] == ("metrics", "deadline", "cluster:v2")
    assert state.cluster_stacks["v2"] == ("balancer:round_robin", "connector")
    # The cache rule names listener "out" and method /p.S/Get: the full route only.
    assert state.route_stacks[("out", "full")][:4] == ("metrics", "deadline", "cache", "rate_limit")


def test_a_swap_rebuilds_the_listed_stacks() -> None:
    boot = _bootstrap()
    state = stack.State()
    stack.build(boot.policy, boot.listeners, state, lambda _transport: Upstream())
    lean = replace(boot.policy, cache=())  # the same policy minus its cache rules
    stack.build(lean, boot.listeners, state, lambda _transport: Upstream())
    assert "cache" not in state.route_stacks[("out", "full")]


def test_the_call_walks_the_listed_chain() -> None:
    """An expired call stops at the deadline layer (below metrics, which counts it once)."""
    boot = _bootstrap()
    state = stack.State()
    upstream = Upstream()
    routers = stack.build(boot.policy, boot.listeners, state, lambda _transport: upstream)

    async def call(deadline: float | None) -> Code:
        request = Request(CallDescriptor("/p.S/Other", deadline=deadline, listener="out"), no_messages())
        response = await routers["out"](request)
        while await response.read() is not None:
            pass
        status = await response.status()
        request.finish(status)
        return status.code

    assert asyncio.run(call(deadline=0.0)) is Code.DEADLINE_EXCEEDED and upstream.calls == 0
    assert asyncio.run(call(deadline=None)) is Code.OK and upstream.calls == 1
    series = {key[:2]: s for key, s in state.telemetry.current_routes()}[("out", "full")]
    assert (series.started, series.codes) == (2, {Code.DEADLINE_EXCEEDED: 1, Code.OK: 1})


def test_a_call_through_every_layer_is_counted_once_per_store() -> None:
    """With every layer configured and measuring on, one call (then a cache hit) is counted once by the
    route, once per upstream attempt on the endpoint (with its bytes), and the cache hit once."""
    boot = _bootstrap()
    state = _measuring_state()
    upstream = Upstream()
    routers = stack.build(boot.policy, boot.listeners, state, lambda _transport: upstream)

    async def call() -> Code:
        request = Request(CallDescriptor("/p.S/Get", listener="out"), _one(b"12345"))
        response = await routers["out"](request)
        await response.initial_metadata()
        while await response.read() is not None:
            pass
        status = await response.status()
        request.finish(status)
        return status.code

    assert [asyncio.run(call()) for _ in range(2)] == [Code.OK, Code.OK]
    assert upstream.calls == 1  # the second call was a cache hit
    reg = state.telemetry
    route = {key[:2]: s for key, s in reg.current_routes()}[("out", "full")]
    assert (route.started, route.finished, route.codes) == (2, 2, {Code.OK: 2})
    assert route.request_bytes == 10 and route.response_bytes == 4  # both calls, as the caller saw them
    endpoints = [s for s in reg.endpoints.values() if s.started]
    assert len(endpoints) == 1 and endpoints[0].started == 1
    assert (endpoints[0].request_bytes, endpoints[0].response_bytes) == (5, 2)
    assert sum(reg.route_decisions("out", "full").split.values()) == 1
    # A split route's cache counts under its first cluster (the cluster in its cache key).
    assert state.cache.cluster_totals() == {"v1": {"cache_misses": 1, "cache_hits": 1, "cache_stores": 1}}


async def _one(message: bytes):  # type: ignore[no-untyped-def]
    yield message
