"""Helpers for the route-policy integration tests: configs, a load driver, admin counters."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import grpc
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc, route_policy_pb2, route_policy_pb2_grpc


def mesh_config(
    clusters: dict[str, list[str]], routes: list[dict[str, Any]], seed: int = 7, version: str = "1"
) -> dict[str, Any]:
    """An outbound listener whose route table is `routes`, clusters by name, and an admin listener."""
    return {
        "node": {"service": "client"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {
            "version": version,
            "route_defaults": {"random_seed": seed},
            "route_tables": [{"name": "outbound", "routes": routes}],
            "clusters": [
                {"name": name, "endpoints": [{"address": a} for a in addresses]} for name, addresses in clusters.items()
            ],
        },
    }


@dataclass
class Outcome:
    start: float  # monotonic time the call started
    elapsed: float
    code: grpc.StatusCode
    served_by: str = ""
    details: str = ""
    deadline_remaining: float = -1.0


async def unary(
    stub: echo_pb2_grpc.EchoStub,
    request: echo_pb2.EchoRequest | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
    timeout: float = 10.0,
) -> Outcome:
    start = time.monotonic()
    try:
        reply = await stub.Unary(request or echo_pb2.EchoRequest(payload=b"hi"), metadata=metadata, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        return Outcome(start, time.monotonic() - start, exc.code(), details=exc.details() or "")
    return Outcome(start, time.monotonic() - start, grpc.StatusCode.OK, reply.served_by, "", reply.deadline_remaining)


async def drive(
    target: str,
    calls: int,
    concurrency: int,
    request: echo_pb2.EchoRequest | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> list[Outcome]:
    """`calls` unary calls through `target`, `concurrency` at a time."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        left = iter(range(calls))
        out: list[Outcome] = []

        async def worker() -> None:
            for _ in left:
                out.append(await unary(stub, request, metadata))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out


def decisions(admin: str) -> dict[str, route_policy_pb2.RouteDecisionCounters]:
    with grpc.insecure_channel(admin) as channel:
        reply = route_policy_pb2_grpc.RouteAdminStub(channel).GetRouteDecisions(
            route_policy_pb2.GetRouteDecisionsRequest(), timeout=5
        )
    return {r.route: r for r in reply.routes}


def policy_version(admin: str) -> str:
    with grpc.insecure_channel(admin) as channel:
        stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=5)
    return stats.policy_version


def route_calls(admin: str, route: str) -> int:
    """Calls a sidecar's route has seen (Admin.GetStats), summed over listeners."""
    with grpc.insecure_channel(admin) as channel:
        stats = admin_pb2_grpc.AdminStub(channel).GetStats(admin_pb2.GetStatsRequest(), timeout=5)
    return sum(r.calls for r in stats.routes if r.route == route)
