"""The engines read latency from telemetry: two real sidecars publish to a real Redis, the engine's
consumer reads their windows and merges the histograms through the shared codec (issue 10, done-when).

Ground truth per sidecar: each call's latency as the sidecar measured it lies between the delay
the upstream slept (`delay_ms`) and the latency the client saw, so the q-quantile of what the
sidecar recorded lies between the q-quantiles of those two lists (order statistics keep the
order). The engine's merged quantiles must fall in that range widened by the codec's stated
relative error. Exactness: the engine's merge of one sidecar's windows equals that sidecar's own
cumulative histogram on /metrics, bucket for bucket.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time

import grpc
import pytest
import redis.asyncio as aioredis
from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import PROMETHEUS_BOUNDS, RELATIVE_ERROR, Histogram
from apex.mesh.contract.streams import telemetry_key
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc, telemetry_pb2

from engines.ingest.consumer import StreamConsumer
from engines.ingest.latency import Latency, latencies, route_histograms, service_histograms
from engines.ingest.telemetry import decode_window
from sidecar.examples.echo import BackgroundEcho
from tests.support.observed import get_metrics, observed_config, poll
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

SERVICE = "latency-merge"
INBOUND = frozenset({"inbound"})
# (delay ms, how many): sidecar A is fast with a slow tail, B slower with a slower tail.
LOADS = {"lat-a": [(4, 70), (25, 30)], "lat-b": [(12, 90), (60, 10)]}


def exact(values: list[float], q: float) -> float:
    """The nearest-rank q-quantile, the definition the codec reads."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def call_with_delays(address: str, delays: list[int]) -> list[float]:
    seen: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        for ms in delays:
            started = time.perf_counter()
            stub.Unary(echo_pb2.EchoRequest(payload=b"x", delay_ms=ms), timeout=10)
            seen.append(time.perf_counter() - started)
    return seen


async def engine_read(redis_url: str) -> list[telemetry_pb2.TelemetryWindow]:
    """What an engine does: a consumer group over the service's stream, decoded by the contract."""
    client = aioredis.from_url(redis_url)
    consumer: StreamConsumer[telemetry_pb2.TelemetryWindow] = StreamConsumer(
        client, telemetry_key(SERVICE), f"latency-{time.time_ns()}", "engine", decode_window, block_ms=50
    )
    got: list[telemetry_pb2.TelemetryWindow] = []
    try:
        while batch := await consumer.read():
            got.extend(e.value for e in batch)
            await consumer.ack(batch)
    finally:
        await client.aclose()
    assert consumer.dead_lettered == 0
    return got


async def _delete(redis_url: str, key: str) -> None:
    client = aioredis.from_url(redis_url)
    await client.delete(key)
    await client.aclose()


def metrics_histogram(text: str) -> list[int]:
    """The sidecar's own cumulative counts of route `local` at PROMETHEUS_BOUNDS, from /metrics."""
    counts: dict[float, int] = {}
    for line in text.splitlines():
        if line.startswith("apex_route_duration_seconds_bucket{") and 'route="local"' in line:
            le = re.search(r'le="([^"]+)"', line)
            assert le is not None
            if le.group(1) != "+Inf":
                counts[float(le.group(1))] = int(float(line.rsplit(" ", 1)[1]))
    return [counts[b] for b in PROMETHEUS_BOUNDS]


def test_engine_merges_two_sidecars_latency_within_the_stated_error(echo: BackgroundEcho, redis_url: str) -> None:
    rng = random.Random(10)
    delays: dict[str, list[int]] = {}
    client_seen: dict[str, list[float]] = {}
    own_metrics: dict[str, list[int]] = {}
    procs: list[SidecarProcess] = []
    asyncio.run(_delete(redis_url, telemetry_key(SERVICE)))
    try:
        for instance in LOADS:
            config = observed_config(
                echo.address, service=SERVICE, telemetry={"redis_url": redis_url, "window": "200ms"},
                metrics={"address": "127.0.0.1:0"},
            )  # fmt: skip
            config["node"]["instance"] = instance
            procs.append(SidecarProcess(config).start())
        for proc, (instance, load) in zip(procs, LOADS.items(), strict=True):
            delays[instance] = [ms for ms, n in load for _ in range(n)]
            rng.shuffle(delays[instance])  # the slow calls spread over many windows
            # Three quick calls first: the first call through a sidecar also connects upstream
            # and asks its reflection service (~0.2 s); they count like any other call.
            delays[instance] = [0, 0, 0, *delays[instance]]
            client_seen[instance] = call_with_delays(proc["inbound"], delays[instance])

        def published(ws: list[telemetry_pb2.TelemetryWindow]) -> dict[str, int]:
            return {k[1]: h.count for k, h in _by_instance(ws).items()}

        want = {instance: len(d) for instance, d in delays.items()}
        windows = poll(lambda: asyncio.run(engine_read(redis_url)), lambda ws: published(ws) == want, timeout=30)
        for proc, instance in zip(procs, LOADS, strict=True):
            own_metrics[instance] = metrics_histogram(get_metrics(proc["metrics"]))
    finally:
        for proc in procs:
            proc.close()

    per_instance = _by_instance(windows)
    assert {k[1]: h.count for k, h in per_instance.items()} == want
    err = RELATIVE_ERROR * (1 + 1e-9)
    for instance in LOADS:
        merged = per_instance[(SERVICE, instance)]
        # Exact: the windows merged by the engine are the sidecar's own cumulative histogram.
        assert merged.cumulative(PROMETHEUS_BOUNDS) == own_metrics[instance], instance
        got = Latency.of(merged)
        for q, value in ((50.0, got.p50), (99.0, got.p99)):
            low = exact([ms / 1e3 for ms in delays[instance]], q)
            high = exact(client_seen[instance], q)
            assert low * (1 - err) <= value <= high * (1 + err), (instance, q, low, value, high)
            print(f"{instance} p{q:g}: engine {value * 1e3:.2f} ms, true within [{low * 1e3:.2f}, {high * 1e3:.2f}] ms")

    # Over both instances: the service's merged histogram is the sum of the two, and its
    # quantiles are those of the union of the calls (same bounds, over the union).
    [(service, both)] = service_histograms(windows, INBOUND).items()
    assert service == SERVICE and both.count == sum(want.values())
    summed = histogram.merge(per_instance.values())
    assert both.buckets == summed.buckets
    total = latencies({"both": both})["both"]
    union_delays = [ms / 1e3 for d in delays.values() for ms in d]
    union_seen = [v for seen in client_seen.values() for v in seen]
    for q, value in ((50.0, total.p50), (95.0, total.p95), (99.0, total.p99)):
        low, high = exact(union_delays, q), exact(union_seen, q)
        assert low * (1 - err) <= value <= high * (1 + err), (q, low, value, high)
        print(f"both p{q:g}: engine {value * 1e3:.2f} ms, true within [{low * 1e3:.2f}, {high * 1e3:.2f}] ms")
    # The union's median is B's (12 ms) calls, above A's and at B's own; its p99 is B's tail.
    a, b = Latency.of(per_instance[(SERVICE, "lat-a")]), Latency.of(per_instance[(SERVICE, "lat-b")])
    assert a.p50 < total.p50 <= b.p50 * (1 + err) and total.p99 >= b.p95


def _by_instance(windows: list[telemetry_pb2.TelemetryWindow]) -> dict[tuple[str, str], Histogram]:
    """(service, instance) -> merged inbound latency (the engine's functions, one instance at a time)."""
    out: dict[tuple[str, str], Histogram] = {}
    for instance in {w.instance for w in windows}:
        mine = [w for w in windows if w.instance == instance]
        merged = route_histograms(mine, INBOUND)
        if merged:
            out[(SERVICE, instance)] = histogram.merge(merged.values())
    return out
