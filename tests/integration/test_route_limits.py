"""Rate limits, fault injection and route timeouts through a real sidecar in front of a real Echo server."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.integration.route_helpers import Outcome, decisions, drive, mesh_config, unary
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


def _routes(**by_name: dict[str, object]) -> list[dict[str, object]]:
    """One route per keyword, selected by the x-route header; each sends to cluster "echo"."""
    return [
        {"name": name, "match": {"headers": [{"name": "x-route", "exact": name}]}, "cluster": "echo", **policy}
        for name, policy in by_name.items()
    ]


def _via(route: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("x-route", route), *extra)


def test_rate_limit_rejects_the_excess_with_resource_exhausted(echo: BackgroundEcho) -> None:
    routes = _routes(
        limited={"rate_limit": {"requests_per_second": 20, "burst": 10}},
        per_caller={"rate_limit": {"requests_per_second": 1, "burst": 5, "per_header": "x-caller"}},
        shadow={"rate_limit": {"requests_per_second": 1, "burst": 5, "enforced": False}},
    )
    with SidecarProcess(mesh_config({"echo": [echo.address]}, routes)) as sc:
        start = time.monotonic()
        out = asyncio.run(drive(sc["outbound"], 300, 10, metadata=_via("limited")))
        elapsed = time.monotonic() - start
        start = time.monotonic()
        alice = asyncio.run(drive(sc["outbound"], 20, 2, metadata=_via("per_caller", ("x-caller", "alice"))))
        bob = asyncio.run(drive(sc["outbound"], 20, 2, metadata=_via("per_caller", ("x-caller", "bob"))))
        callers_elapsed = time.monotonic() - start
        start = time.monotonic()
        shadow = asyncio.run(drive(sc["outbound"], 40, 4, metadata=_via("shadow")))
        shadow_elapsed = time.monotonic() - start
        counters = decisions(sc["admin"])
    ok = sum(o.code is grpc.StatusCode.OK for o in out)
    limited = [o for o in out if o.code is grpc.StatusCode.RESOURCE_EXHAUSTED]
    ceiling = 10 + 20 * elapsed
    alice_ok, bob_ok = (sum(o.code is grpc.StatusCode.OK for o in caller) for caller in (alice, bob))
    print(
        f"\nrate limit 20/s burst 10: {len(out)} calls in {elapsed:.2f} s -> {ok} admitted "
        f"(bucket allows at most {ceiling:.0f}), {len(limited)} RESOURCE_EXHAUSTED; per caller (1/s burst 5): "
        f"alice {alice_ok}/20, bob {bob_ok}/20; "
        f"shadow: 40/40 passed, {counters['shadow'].rate_limited_shadow} would have been limited"
    )
    assert ok + len(limited) == len(out)
    assert 10 <= ok <= ceiling + 2
    assert len(limited) >= len(out) - ceiling - 2
    assert all("rate limit" in o.details for o in limited)
    assert counters["limited"].rate_limited == len(limited)
    # Separate buckets: each caller gets its own burst of 5 (+1/s while the test runs).
    assert 5 <= alice_ok <= 6 + callers_elapsed and 5 <= bob_ok <= 6 + callers_elapsed
    assert all(o.code is grpc.StatusCode.OK for o in shadow)
    assert counters["shadow"].rate_limited == 0
    assert 34 - shadow_elapsed <= counters["shadow"].rate_limited_shadow <= 35


def test_fault_injection_aborts_and_delays_about_the_configured_percentage(echo: BackgroundEcho) -> None:
    routes = _routes(
        faulty={
            "fault": {
                "abort": {"percent": 25, "code": "UNAVAILABLE"},
                "delay": {"percent": 20, "duration": "300ms"},
            }
        },
        clean={},
    )
    calls = 400
    with SidecarProcess(mesh_config({"echo": [echo.address]}, routes)) as sc:
        out = asyncio.run(drive(sc["outbound"], calls, 40, metadata=_via("faulty")))
        clean = asyncio.run(drive(sc["outbound"], 100, 10, metadata=_via("clean")))
        counters = decisions(sc["admin"])
    aborted = [o for o in out if o.code is grpc.StatusCode.UNAVAILABLE]
    slow = [o for o in out if o.elapsed >= 0.29]  # event-loop timers may fire a hair early
    print(
        f"\nfaults abort 25% / delay 20% x 300 ms over {calls} calls: {len(aborted) / calls:.3f} aborted, "
        f"{len(slow) / calls:.3f} took >= 300 ms; admin counts {counters['faulty'].fault_aborts} aborts, "
        f"{counters['faulty'].fault_delays} delays"
    )
    assert len(aborted) + sum(o.code is grpc.StatusCode.OK for o in out) == calls
    assert 0.17 <= len(aborted) / calls <= 0.33
    assert counters["faulty"].fault_aborts == len(aborted)
    assert 0.13 <= counters["faulty"].fault_delays / calls <= 0.27
    assert len(slow) >= counters["faulty"].fault_delays  # every delayed call took at least the delay
    assert all("fault injected" in o.details for o in aborted)
    assert all(o.code is grpc.StatusCode.OK for o in clean)
    assert counters["clean"].fault_aborts == counters["clean"].fault_delays == 0


def test_route_timeout_bounds_the_call_and_the_remaining_time_propagates(echo: BackgroundEcho) -> None:
    routes = _routes(bounded={"timeout": "400ms"})

    async def run(target: str) -> list[Outcome]:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            md = _via("bounded")
            quick = await unary(stub, echo_pb2.EchoRequest(payload=b"q"), md)  # no caller deadline
            tight = await unary(stub, echo_pb2.EchoRequest(payload=b"q"), md, timeout=0.25)  # caller's is shorter
            slow = await unary(stub, echo_pb2.EchoRequest(payload=b"q", delay_ms=3000), md, timeout=30)
            return [quick, tight, slow]

    with SidecarProcess(mesh_config({"echo": [echo.address]}, routes)) as sc:
        quick, tight, slow = asyncio.run(run(sc["outbound"]))
        counters = decisions(sc["admin"])["bounded"]
    print(
        f"\nroute timeout 400 ms: upstream saw {quick.deadline_remaining * 1000:.0f} ms left (no caller deadline), "
        f"{tight.deadline_remaining * 1000:.0f} ms with a 250 ms caller deadline; a 3 s call ended "
        f"{slow.code.name} after {slow.elapsed * 1000:.0f} ms; timeouts counted {counters.timeouts}"
    )
    assert quick.code is grpc.StatusCode.OK and 0 < quick.deadline_remaining <= 0.4
    assert tight.code is grpc.StatusCode.OK and 0 < tight.deadline_remaining <= 0.26  # grpc-timeout rounds up
    assert slow.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert slow.elapsed < 2.5  # ended by the route's 400 ms, long before the 3 s answer
    assert counters.timeouts == 1
