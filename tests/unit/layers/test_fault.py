"""Fault injection: percentages with a seeded RNG, delay before abort, off when not configured."""

from __future__ import annotations

import asyncio
import random

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers import fault
from sidecar.policy.route_model import Fault, FaultAbort, FaultDelay
from sidecar.telemetry.registry import RouteDecisions


def test_percentages_are_met_with_a_seeded_rng() -> None:
    policy = Fault(delay=FaultDelay(20.0, 0.1), abort=FaultAbort(5.0, Code.UNAVAILABLE))
    rng = random.Random(11)
    n = 50_000
    draws = [fault.decide(policy, rng) for _ in range(n)]
    delays = sum(d.delay is not None for d in draws) / n
    aborts = sum(d.abort is not None for d in draws) / n
    assert abs(delays - 0.20) < 0.01
    assert abs(aborts - 0.05) < 0.005
    assert all(d.delay in (None, 0.1) and d.abort in (None, Code.UNAVAILABLE) for d in draws)


def test_zero_and_hundred_percent() -> None:
    rng = random.Random(0)
    never = Fault(abort=FaultAbort(0.0, Code.INTERNAL))
    always = Fault(abort=FaultAbort(100.0, Code.INTERNAL))
    assert all(fault.decide(never, rng) is fault.NONE for _ in range(1000))
    assert all(fault.decide(always, rng).abort is Code.INTERNAL for _ in range(1000))


def test_layer_delays_then_aborts_and_counts() -> None:
    slept: list[float] = []
    reached = 0

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def inner(request: Request) -> Response:
        nonlocal reached
        reached += 1
        return BufferedResponse(Status(Code.OK))

    counters = RouteDecisions("l", "r")
    policy = Fault(delay=FaultDelay(50.0, 0.25), abort=FaultAbort(50.0, Code.ABORTED))
    svc = fault.FaultInjection(policy, "r", random.Random(2), counters, sleep=sleep)(inner)

    async def run() -> list[Code]:
        out = []
        for _ in range(1000):
            response = await svc(Request(CallDescriptor(method="/p.S/M"), no_messages()))
            out.append((await response.status()).code)
        return out

    codes = asyncio.run(run())
    assert counters.fault_delays == len(slept) and all(s == 0.25 for s in slept)
    assert counters.fault_aborts == codes.count(Code.ABORTED)
    assert reached == codes.count(Code.OK) == 1000 - counters.fault_aborts
    assert 400 < counters.fault_delays < 600 and 400 < counters.fault_aborts < 600
