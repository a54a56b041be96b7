"""Discovery from the registry and canary rollouts, with real control-plane and sidecar processes."""

from __future__ import annotations

import collections
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, config_pb2, echo_pb2, echo_pb2_grpc

from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from tests.support.control_plane_proc import ControlPlaneProcess, wait_for
from tests.support.sidecar_proc import SidecarProcess, proxy_config

pytestmark = pytest.mark.integration


@pytest.fixture
def cp(redis_url: str) -> Iterator[ControlPlaneProcess]:
    with ControlPlaneProcess(redis_url) as proc:
        yield proc


def joined(config: dict[str, Any], cp: ControlPlaneProcess, last_good: Path) -> dict[str, Any]:
    config["control_plane"] = cp.address
    config["last_good_policy_file"] = str(last_good)
    config["heartbeat_interval"] = "250ms"
    return config


def frontend_config() -> dict[str, Any]:
    """Only an outbound listener whose Echo calls go to the discovered `catalog` instances."""
    return {
        "node": {"service": "frontend"},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {
            "route_tables": [{"name": "outbound", "routes": [{"name": "catalog", "cluster": "catalog"}]}],
            "clusters": [{"name": "catalog", "discover": "catalog"}],
        },
    }


def served_by(address: str, calls: int) -> collections.Counter[str]:
    seen: collections.Counter[str] = collections.Counter()
    with grpc.insecure_channel(address) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        for _ in range(calls):
            try:
                seen[stub.Unary(echo_pb2.EchoRequest(), timeout=5).served_by] += 1
            except grpc.RpcError as exc:
                seen[exc.code().name] += 1
    return seen


def resolved(sidecar: SidecarProcess, cluster: str) -> list[str]:
    with grpc.insecure_channel(sidecar["admin"]) as channel:
        dump = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=5)
    return [e for c in dump.clusters if c.name == cluster for e in c.resolved_endpoints]


def test_discovered_cluster_follows_the_registry(cp: ControlPlaneProcess, tmp_path: Path) -> None:
    backends = [BackgroundEcho(f"catalog-{i}").start() for i in range(2)]
    catalog = [
        SidecarProcess(joined(proxy_config(b.address, service="catalog"), cp, tmp_path / f"c{i}.binpb")).start()
        for i, b in enumerate(backends)
    ]
    front = SidecarProcess(joined(frontend_config(), cp, tmp_path / "f.binpb")).start()
    try:
        inbound = sorted(sc["inbound"] for sc in catalog)
        wait_for(lambda: sorted(resolved(front, "catalog")) == inbound, what="both catalog instances discovered")
        seen = served_by(front["outbound"], 20)
        assert seen == {"catalog-0": 10, "catalog-1": 10}
        catalog[1].close()
        wait_for(lambda: resolved(front, "catalog") == [catalog[0]["inbound"]], what="the stopped instance dropped")
        assert served_by(front["outbound"], 10) == {"catalog-0": 10}
        # Restarted while the control plane is down, the frontend still knows where catalog is.
        cp.stop()
        front.stop()
        front.start()
        assert resolved(front, "catalog") == [catalog[0]["inbound"]]
        assert served_by(front["outbound"], 4) == {"catalog-0": 4}
    finally:
        front.close()
        for sc in catalog:
            sc.close()
        for b in backends:
            b.close()


def test_a_canary_reaches_its_percentage_then_everyone(
    echo: BackgroundEcho, cp: ControlPlaneProcess, tmp_path: Path
) -> None:
    sidecars = [
        SidecarProcess(joined(proxy_config(echo.address), cp, tmp_path / f"{i}.binpb")).start() for i in range(4)
    ]
    try:
        wait_for(lambda: len([i for i in cp.instances("echo") if i.healthy]) == 4, what="4 healthy instances")
        data = copy.deepcopy(proxy_config(echo.address)["policy"])
        base = fill(config_pb2.Policy(), data, "policy")
        cp.set_policy("echo", base, expected=0)  # type: ignore[arg-type]
        wait_for(lambda: all(i.applied_version == "1" for i in cp.instances("echo")), what="version 1 everywhere")
        data["clusters"][1]["authority"] = "canary"
        canary = fill(config_pb2.Policy(), data, "policy")
        cp.set_policy("echo", canary, expected=1, percent=50)  # type: ignore[arg-type]

        def split() -> collections.Counter[str] | None:
            counts = collections.Counter(i.applied_version for i in cp.instances("echo"))
            return counts if counts == {"1": 2, "2": 2} else None

        wait_for(split, what="half the instances on the canary")
        cp.set_policy("echo", canary, expected=2, reason="promote")  # type: ignore[arg-type]
        wait_for(lambda: all(i.applied_version == "3" for i in cp.instances("echo")), what="version 3 everywhere")
    finally:
        for sc in sidecars:
            sc.close()
