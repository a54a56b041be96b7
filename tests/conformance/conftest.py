"""Targets for the conformance suite: the same Echo service reached directly and through sidecars."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from sidecar.support.sidecar_proc import start_all
from tests.conformance import interop as interop_mod
from tests.conformance.traversal import REFLECTION_ROUTE, REFLECTION_SERVICE, Hop
from tests.support.sidecar_proc import SidecarProcess

UNIMPLEMENTED_SERVICE = "grpc.testing.UnimplementedService"
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def mesh_config(upstream: str, *, name: str, transport: str = "grpc", interop: str = "") -> dict[str, Any]:
    """Inbound → the local service; outbound routes the Echo service by name, anything else by default.
    Both tables give reflection lookups (a sidecar's own background calls) a route of their own, so
    the traversal counts (tests/conformance/traversal.py) see only the tests' calls. With `interop`,
    the interop TestService (and the interop tests' UnimplementedService) go there instead
    (tests/conformance/interop.py; the next sidecar's listener on the mesh path)."""
    reflection = {"name": REFLECTION_ROUTE, "match": {"service": REFLECTION_SERVICE}}
    interop_routes = [
        {"name": "interop", "match": {"service": interop_mod.SERVICE}, "cluster": "interop"},
        {"name": "interop-unimplemented", "match": {"service": UNIMPLEMENTED_SERVICE}, "cluster": "interop"},
    ] if interop else []  # fmt: skip
    return {
        "node": {"service": name},
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [
            {"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND", "transport": transport},
            {"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND", "transport": transport},
        ],
        "policy": {
            "route_tables": [
                {
                    "name": "inbound",
                    "routes": [
                        {**reflection, "cluster": "local"},
                        *interop_routes,
                        {"name": "local", "cluster": "local"},
                    ],
                },
                {
                    "name": "outbound",
                    "routes": [
                        {**reflection, "cluster": "remote"},
                        *interop_routes,
                        {"name": "echo", "match": {"service": "apex.mesh.v1.Echo"}, "cluster": "remote"},
                        {"name": "default", "cluster": "remote"},
                    ],
                },
            ],
            "clusters": [
                {"name": "local", "endpoints": [{"address": upstream}], "transport": transport},
                {"name": "remote", "endpoints": [{"address": upstream}], "transport": transport},
                *(
                    [{"name": "interop", "endpoints": [{"address": interop}], "transport": transport}]
                    if interop
                    else []
                ),
            ],
        },
    }


class Target:
    """A named address the Echo service answers on, with a stub and a raw channel, and the
    sidecars (hops, in order) every call to it must pass through."""

    def __init__(self, name: str, address: str, upstream: BackgroundEcho, hops: tuple[Hop, ...] = ()) -> None:
        self.name = name
        self.address = address
        self.upstream = upstream  # the Echo server the calls end up at
        self.hops = hops
        self.admin = hops[0].admin if hops else ""  # the first sidecar's admin address
        self.channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        self.stub = echo_pb2_grpc.EchoStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        for hop in self.hops:
            hop.close()


@pytest.fixture(scope="package")
def upstream() -> Iterator[BackgroundEcho]:
    server = BackgroundEcho("conformance").start()
    yield server
    server.close()


@pytest.fixture(scope="package")
def plain_upstream() -> Iterator[BackgroundEcho]:
    """The same service without gRPC reflection: sidecars relay even its unary methods as streams."""
    server = BackgroundEcho("conformance", reflection=False).start()
    yield server
    server.close()


@pytest.fixture(scope="package")
def interop_upstream() -> Iterator[interop_mod.InteropServer]:
    """The interop TestService (tests/conformance/interop.py) every sidecar also routes to."""
    server = interop_mod.InteropServer().start()
    yield server
    server.close()


@pytest.fixture(scope="package")
def targets(
    upstream: BackgroundEcho, plain_upstream: BackgroundEcho, interop_upstream: interop_mod.InteropServer
) -> Iterator[dict[str, Target]]:
    """direct; inbound (sidecar B in front of the service); outbound (sidecar A routing to the
    service); mesh (A's outbound → B's inbound → service, the real two-sidecar path); and
    inbound-plain, a sidecar in front of the service without reflection (stream relay only).
    Each sidecar routes the interop TestService to `interop_upstream` (A: through B)."""
    interop = interop_upstream.address
    # started side by side: first those in front of the services, then the two that route to a "b"
    side_b, side_direct_out, side_plain, h2_b, h2_out = start_all(
        SidecarProcess(mesh_config(upstream.address, name="b", interop=interop)),
        SidecarProcess(mesh_config(upstream.address, name="c", interop=interop)),
        SidecarProcess(mesh_config(plain_upstream.address, name="d", interop=interop)),
        # transport h2 (issue 13) on every path: listeners and clusters of these sidecars speak HTTP/2 themselves
        SidecarProcess(mesh_config(upstream.address, name="b2", transport="h2", interop=interop)),
        SidecarProcess(mesh_config(upstream.address, name="c2", transport="h2", interop=interop)),
    )
    side_a, h2_a = start_all(
        SidecarProcess(mesh_config(side_b["inbound"], name="a", interop=side_b["inbound"])),
        SidecarProcess(mesh_config(h2_b["inbound"], name="a2", transport="h2", interop=h2_b["inbound"])),
    )

    def hop(name: str, side: SidecarProcess, listener: str) -> Hop:
        return Hop(f"sidecar {name} ({listener})", side["admin"], listener)

    found = {
        "direct": Target("direct", upstream.address, upstream),
        "inbound": Target("inbound", side_b["inbound"], upstream, (hop("b", side_b, "inbound"),)),
        "outbound": Target("outbound", side_direct_out["outbound"], upstream, (hop("c", side_direct_out, "outbound"),)),
        "mesh": Target(
            "mesh", side_a["outbound"], upstream, (hop("a", side_a, "outbound"), hop("b", side_b, "inbound"))
        ),
        "inbound-plain": Target(
            "inbound-plain", side_plain["inbound"], plain_upstream, (hop("d", side_plain, "inbound"),)
        ),
        "inbound-h2": Target("inbound-h2", h2_b["inbound"], upstream, (hop("b2", h2_b, "inbound"),)),
        "outbound-h2": Target("outbound-h2", h2_out["outbound"], upstream, (hop("c2", h2_out, "outbound"),)),
        "mesh-h2": Target(
            "mesh-h2", h2_a["outbound"], upstream, (hop("a2", h2_a, "outbound"), hop("b2", h2_b, "inbound"))
        ),
    }
    _learn_method_kinds(found)
    yield found
    for target in found.values():
        target.close()
    for proc in (side_a, side_b, side_direct_out, side_plain, h2_a, h2_b, h2_out):
        assert proc.stop() == 0, proc.log()
        proc.close()


def _learn_method_kinds(found: dict[str, Target], timeout: float = 20.0) -> None:
    """One call per target, then wait until the sidecars in front of the reflecting service have
    learned that Echo/Unary is unary, so the suite exercises their unary relay."""
    for target in found.values():
        target.stub.ServerStream(echo_pb2.EchoRequest(response_count=1), timeout=10).next()
    deadline = time.monotonic() + timeout
    for target in found.values():
        if not target.admin or target.name.endswith("-h2"):  # h2 needs no method kinds: every call is a stream
            continue
        admin = admin_pb2_grpc.AdminStub(grpc.insecure_channel(target.admin))
        while True:
            kinds = admin.GetConfig(admin_pb2.GetConfigRequest(), timeout=10).method_kinds
            learned = kinds.get("/apex.mesh.v1.Echo/Unary")
            if target.upstream.reflection:
                if learned == "unary":
                    break
                assert time.monotonic() < deadline, f"{target.name}: Echo/Unary not learned as unary: {dict(kinds)}"
                time.sleep(0.05)
            else:
                assert learned is None, f"{target.name}: learned kinds without reflection: {dict(kinds)}"
                break


@pytest.fixture(params=["inbound", "outbound", "mesh", "inbound-plain", "inbound-h2", "outbound-h2", "mesh-h2"])
def via(request: pytest.FixtureRequest, targets: dict[str, Target]) -> Target:
    """Each proxied path in turn."""
    return targets[request.param]


@pytest.fixture
def direct(targets: dict[str, Target]) -> Target:
    return targets["direct"]
