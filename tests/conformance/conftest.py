"""Targets for the conformance suite: the same Echo service reached directly and through sidecars."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.support.sidecar_proc import SidecarProcess

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def mesh_config(upstream: str, *, name: str) -> dict[str, Any]:
    """Inbound → the local service; outbound routes the Echo service by name, anything else by default."""
    return {
        "node": {"service": name},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [
            {"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND"},
            {"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"},
        ],
        "policy": {
            "route_tables": [
                {"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]},
                {
                    "name": "outbound",
                    "routes": [
                        {"name": "echo", "match": {"service": "apex.mesh.v1.Echo"}, "cluster": "remote"},
                        {"name": "default", "cluster": "remote"},
                    ],
                },
            ],
            "clusters": [
                {"name": "local", "endpoints": [{"address": upstream}]},
                {"name": "remote", "endpoints": [{"address": upstream}]},
            ],
        },
    }


class Target:
    """A named address the Echo service answers on, with a stub and a raw channel."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address
        self.channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.stub = echo_pb2_grpc.EchoStub(self.channel)

    def close(self) -> None:
        self.channel.close()


@pytest.fixture(scope="package")
def upstream() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("conformance").start()
    yield server
    server.close()


@pytest.fixture(scope="package")
def targets(upstream: BackgroundEcho) -> Iterator[dict[str, Target]]:
    """direct; inbound (sidecar B in front of the service); outbound (sidecar A routing to the
    service); mesh (A's outbound → B's inbound → service, the real two-sidecar path)."""
    side_b = SidecarProcess(mesh_config(upstream.address, name="b")).start()
    side_a = SidecarProcess(mesh_config(side_b["inbound"], name="a")).start()
    side_direct_out = SidecarProcess(mesh_config(upstream.address, name="c")).start()
    found = {
        "direct": Target("direct", upstream.address),
        "inbound": Target("inbound", side_b["inbound"]),
        "outbound": Target("outbound", side_direct_out["outbound"]),
        "mesh": Target("mesh", side_a["outbound"]),
    }
    yield found
    for target in found.values():
        target.close()
    for proc in (side_a, side_b, side_direct_out):
        assert proc.stop() == 0, proc.log()
        proc.close()


@pytest.fixture(params=["inbound", "outbound", "mesh"])
def via(request: pytest.FixtureRequest, targets: dict[str, Target]) -> Target:
    """Each proxied path in turn."""
    return targets[request.param]


@pytest.fixture
def direct(targets: dict[str, Target]) -> Target:
    return targets["direct"]
