"""Helpers for observability tests: configs with telemetry/tracing/metrics, Echo calls, Redis reads."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import redis
from apex.mesh.contract.streams import telemetry_key
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc, telemetry_pb2

from sidecar.telemetry.reader import Dedupe, split
from tests.support.sidecar_proc import proxy_config

T = TypeVar("T")


def observed_config(upstream: str, service: str = "echo", **sections: Any) -> dict[str, Any]:
    """proxy_config plus observability sections, e.g. telemetry={...}, tracing={...}, metrics={...}."""
    config = proxy_config(upstream, service=service)
    config.update(sections)
    return config


def unary(address: str, n: int, *, status: int = 0, metadata: tuple[tuple[str, str], ...] = ()) -> list[float]:
    """Make `n` Echo.Unary calls to `address`; return their latencies. Raise on unexpected status."""
    latencies: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        request = echo_pb2.EchoRequest(payload=b"hello", status=echo_pb2.EchoStatus(code=status, message="asked"))
        for _ in range(n):
            started = time.perf_counter()
            try:
                stub.Unary(request, timeout=10, metadata=metadata)
                code = 0
            except grpc.RpcError as exc:
                code = exc.code().value[0]
            latencies.append(time.perf_counter() - started)
            assert code == status, f"expected status {status}, got {code}"
    return latencies


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0, every: float = 0.1) -> T:
    """Call `fetch` until `done(result)` or the deadline; return the last result."""
    deadline = time.monotonic() + timeout
    result = fetch()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(every)
        result = fetch()
    return result


def windows(url: str, service: str) -> list[telemetry_pb2.TelemetryWindow]:
    """Every (deduplicated) window on the service's stream, decoded; fails on undecodable entries."""
    client = redis.Redis.from_url(url)
    try:
        entries: Any = client.xrange(telemetry_key(service))
        good, bad = split(entries, Dedupe())
    finally:
        client.close()
    assert not bad, bad
    return [w for _, w in good]


def route_calls(ws: list[telemetry_pb2.TelemetryWindow], route: str = "echo") -> int:
    return sum(r.stats.calls for w in ws for r in w.routes if r.route == route)


def get_metrics(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode())


def run(coro: Any) -> Any:
    return asyncio.run(coro)
