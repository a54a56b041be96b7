"""What the dashboard shows, read from the running mesh: sidecar admin APIs, telemetry windows
in Redis, and the control plane's audit history (engine actions)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import redis.asyncio as aioredis
from apex.mesh.contract import entries, histogram, streams
from apex.mesh.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    cache_pb2,
    cache_pb2_grpc,
    cluster_policy_pb2,
    cluster_policy_pb2_grpc,
    control_pb2,
    control_pb2_grpc,
    security_admin_pb2,
    security_admin_pb2_grpc,
)

from sidecar.admin.security_admin import from_proto
from sidecar.demo import dashboard
from sidecar.security.status import SecurityStatus

SERVICES = ("frontend", "catalog", "pricing")
ENGINE_SOURCES = {control_pb2.FORECASTER: "forecaster", control_pb2.TUNER: "tuner"}


@dataclass
class SidecarView:
    service: str
    instance: str
    ports: dict[str, str]
    channel: Any = None
    last_calls: int = 0
    last_errors: int = 0
    last_hits: int = 0
    last_lookups: int = 0

    def open(self) -> None:
        self.channel = grpc.aio.insecure_channel(self.ports["admin"])

    async def close(self) -> None:
        if self.channel is not None:
            await self.channel.close()


async def route_row(sc: SidecarView, dt: float) -> dashboard.ServiceRow:
    """Calls/s and error rate on the sidecar's inbound listener since the last look."""
    row = dashboard.ServiceRow(sc.service)
    try:
        stats = await admin_pb2_grpc.AdminStub(sc.channel).GetStats(admin_pb2.GetStatsRequest(), timeout=1)
    except grpc.aio.AioRpcError:
        row.breaker = "admin unreachable"
        return row
    inbound = [r for r in stats.routes if r.listener == "inbound"]
    calls = sum(r.calls for r in inbound)
    errors = sum(n for r in inbound for code, n in r.status_codes.items() if code != "OK")
    d_calls, d_errors = calls - sc.last_calls, errors - sc.last_errors
    sc.last_calls, sc.last_errors = calls, errors
    row.calls_per_s = d_calls / dt if dt > 0 else 0.0
    row.error_rate = d_errors / d_calls if d_calls else 0.0
    row.policy_version = stats.policy_version or "-"
    return row


async def cache_hit_rate(sc: SidecarView) -> float | None:
    try:
        stats = await cache_pb2_grpc.CacheAdminStub(sc.channel).GetCacheStats(
            cache_pb2.GetCacheStatsRequest(), timeout=1
        )
    except grpc.aio.AioRpcError:
        return None
    if not stats.methods:
        return None
    hits = sum(m.hits + m.stale_while_revalidate + m.stale_if_error for m in stats.methods)
    lookups = hits + sum(m.misses + m.coalesced for m in stats.methods)
    d_hits, d_lookups = hits - sc.last_hits, lookups - sc.last_lookups
    sc.last_hits, sc.last_lookups = hits, lookups
    return d_hits / d_lookups if d_lookups else None


async def ejections(sc: SidecarView) -> dict[str, str]:
    """Per upstream cluster seen by this sidecar: 'ok', or how many endpoints are ejected."""
    stub = cluster_policy_pb2_grpc.ClusterAdminStub(sc.channel)
    try:
        state = await stub.GetClusters(cluster_policy_pb2.GetClustersRequest(), timeout=1)
    except grpc.aio.AioRpcError:
        return {}
    out = {}
    for cluster in state.clusters:
        if cluster.name == "local":
            continue
        out_eps = [e for e in cluster.endpoints if e.state != cluster_policy_pb2.EndpointStatus.ACTIVE]
        ejected = sum(int(c) for k, c in cluster.counters.items() if k == "outlier_ejections")
        if out_eps:
            names = ", ".join(f"{e.address} {cluster_policy_pb2.EndpointStatus.State.Name(e.state)}" for e in out_eps)
            out[cluster.name] = f"{len(out_eps)}/{len(cluster.endpoints)} out: {names}"
        else:
            out[cluster.name] = f"closed ({ejected} ejections so far)" if ejected else "closed"
    return out


async def security(sc: SidecarView) -> SecurityStatus | None:
    """The sidecar's identity, certificate and per-listener peer counters (None: unreadable, or no identity)."""
    stub = security_admin_pb2_grpc.SecurityAdminStub(sc.channel)
    try:
        reply = await stub.GetSecurity(security_admin_pb2.GetSecurityRequest(), timeout=1)
    except grpc.aio.AioRpcError:
        return None
    return from_proto(reply)


@dataclass
class TelemetryView:
    """Latency percentiles per service from the windows the sidecars published."""

    client: aioredis.Redis
    windows: int = 0
    latest: dict[str, tuple[float, float]] = field(default_factory=dict)  # service -> (p50 ms, p99 ms)

    async def refresh(self, horizon: float = 3.0) -> None:
        total = 0
        now = time.time()
        for service in SERVICES:
            key = streams.telemetry_key(service)
            total += await self.client.xlen(key)
            merged = histogram.Histogram()
            found: Any = await self.client.xrevrange(key, count=12)
            for _, fields in found:
                try:
                    w = entries.decode_window(fields)
                except entries.EntryError:
                    continue
                if now - w.window_start.seconds > horizon:
                    continue
                for r in w.routes:
                    if r.listener == "inbound" and r.stats.latency.count:
                        merged.merge(histogram.decode(r.stats.latency))
            if merged.count:
                self.latest[service] = (merged.percentile(50) * 1e3, merged.percentile(99) * 1e3)
        self.windows = total


async def engine_actions(
    channel: Any,
    seen: dict[tuple[str, int], tuple[int, str]],
    metadata: tuple[tuple[str, str], ...] | None = None,
    authors: dict[str, set[str]] | None = None,
) -> list[str]:
    """Changes the engines made, oldest first, from the control plane's audit history: the newest 20
    records per service are read on each call (as the operator `metadata` names) and added to `seen`
    ((service, version) -> (time, line)), so none is lost however many changes the engines make over
    the run. A line names the audit's author: the engine's authenticated principal on a secured control
    plane (an unverified claim under --insecure). `authors` collects them per engine."""
    stub = control_pb2_grpc.PolicyAdminStub(channel)
    for service in SERVICES:
        try:
            reply = await stub.History(control_pb2.HistoryRequest(service=service, limit=20), timeout=1,
                                       metadata=metadata)  # fmt: skip
        except grpc.aio.AioRpcError:
            continue
        for record in reply.records:
            if record.source in ENGINE_SOURCES:
                engine = ENGINE_SOURCES[record.source]
                author = record.author or engine
                stamp = time.strftime("%H:%M:%S", time.localtime(record.created_at.seconds))
                line = f"{stamp} {service} v{record.version} {author}: {record.reason}"
                seen[(service, record.version)] = (record.created_at.seconds, line)
                if authors is not None:
                    authors.setdefault(engine, set()).add(author)
    return [line for _, line in sorted(seen.values())]
