"""The client helper reaches a named service through a real sidecar that routes by authority."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sidecar.client import aio_mesh_channel, mesh_channel
from sidecar.examples.echo import BackgroundEcho
from tests.support.sidecar_proc import SidecarProcess


@pytest.fixture(scope="module")
def two_services() -> Iterator[tuple[SidecarProcess, BackgroundEcho, BackgroundEcho]]:
    catalog, pricing = BackgroundEcho("catalog").start(), BackgroundEcho("pricing").start()
    config: dict[str, Any] = {
        "node": {"service": "frontend"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {
            "version": "test-1",
            "route_tables": [{"name": "outbound", "routes": [
                {"name": "catalog", "match": {"authority": "catalog"}, "cluster": "catalog"},
                {"name": "pricing", "match": {"authority": "pricing"}, "cluster": "pricing"},
            ]}],
            "clusters": [
                {"name": "catalog", "endpoints": [{"address": catalog.address}]},
                {"name": "pricing", "endpoints": [{"address": f"localhost:{pricing.port}"}]},
            ],
        },
    }  # fmt: skip
    with SidecarProcess(config) as side:
        yield side, catalog, pricing
    catalog.close()
    pricing.close()


def test_sync_channel_routes_by_service_name(two_services: Any) -> None:
    side, _, _ = two_services
    for service in ("catalog", "pricing", "catalog"):
        stub = echo_pb2_grpc.EchoStub(mesh_channel(service, sidecar=side["outbound"]))
        assert stub.Unary(echo_pb2.EchoRequest(), timeout=10).served_by == service
        streamed = stub.Bidi(iter([echo_pb2.EchoRequest(), echo_pb2.EchoRequest()]), timeout=10)
        assert [r.served_by for r in streamed] == [service, service]


def test_aio_channel_routes_by_service_name(two_services: Any) -> None:
    side, _, _ = two_services

    async def run() -> list[str]:
        async with aio_mesh_channel("pricing", sidecar=side["outbound"]) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            unary = await stub.Unary(echo_pb2.EchoRequest(), timeout=10)
            streamed = [r.served_by async for r in stub.ServerStream(echo_pb2.EchoRequest(response_count=2))]
            return [unary.served_by, *streamed]

    assert asyncio.run(run()) == ["pricing"] * 3


def test_unknown_service_is_unimplemented_and_admin_counts(two_services: Any) -> None:
    side, _, _ = two_services
    stub = echo_pb2_grpc.EchoStub(mesh_channel("inventory", sidecar=side["outbound"]))
    with pytest.raises(grpc.RpcError) as err:
        stub.Unary(echo_pb2.EchoRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "no route" in err.value.details()

    admin = admin_pb2_grpc.AdminStub(grpc.insecure_channel(side["admin"]))
    before = {r.route: r.status_codes["OK"] for r in admin.GetStats(admin_pb2.GetStatsRequest(), timeout=10).routes}
    catalog = echo_pb2_grpc.EchoStub(mesh_channel("catalog", sidecar=side["outbound"]))
    for _ in range(2):  # this test's own calls: it must not depend on what other tests sent before it
        catalog.Unary(echo_pb2.EchoRequest(), timeout=10)
    stats = admin.GetStats(admin_pb2.GetStatsRequest(), timeout=10)
    assert stats.unrouted >= 1 and stats.policy_version == "test-1"
    by_route = {r.route: r for r in stats.routes}
    assert by_route["catalog"].status_codes["OK"] - before.get("catalog", 0) == 2
    assert by_route["catalog"].in_flight == 0
    config = admin.GetConfig(admin_pb2.GetConfigRequest(), timeout=10)
    assert config.bootstrap.node.service == "frontend"
    resolved = {c.name: list(c.resolved_endpoints) for c in config.clusters}
    assert resolved["pricing"] == [f"127.0.0.1:{two_services[2].port}"]  # DNS name resolved
    assert set(config.bound_addresses) == {"outbound", "admin"}
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(side["admin"]))
    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_admin_cli(two_services: Any) -> None:
    side, _, _ = two_services
    run = [sys.executable, "-m", "sidecar", "admin", "--admin", side["admin"]]
    health = subprocess.run([*run, "health"], capture_output=True, text=True, timeout=60)
    assert (health.returncode, health.stdout.strip()) == (0, "SERVING")
    stats = subprocess.run([*run, "stats"], capture_output=True, text=True, timeout=60)
    assert "policy version: test-1" in stats.stdout and "catalog" in stats.stdout
    config = subprocess.run([*run, "--json", "config"], capture_output=True, text=True, timeout=60)
    assert json.loads(config.stdout)["bootstrap"]["node"]["service"] == "frontend"
    level = subprocess.run([*run, "log-level", "debug"], capture_output=True, text=True, timeout=60)
    assert (level.returncode, level.stdout.strip()) == (0, "DEBUG")
    back = subprocess.run([*run, "log-level"], capture_output=True, text=True, timeout=60)
    assert back.stdout.strip() == "DEBUG"
    bad = subprocess.run([*run, "log-level", "LOUD"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "LOUD" in bad.stderr
    down = subprocess.run([sys.executable, "-m", "sidecar", "admin", "--admin", "127.0.0.1:1", "health"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 1 and "UNAVAILABLE" in down.stderr
