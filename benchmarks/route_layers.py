"""Per-call cost of the route policy layers, in process (no network): µs per unary call.

    python -m benchmarks.route_layers [--calls N]

Each row composes the layers a route gets for that policy around an in-memory upstream and
drives N calls the way the transport does (headers, messages, status, finish).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import AsyncIterator

import uvloop

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Layer, Request, Response, Service, stack
from sidecar.layers import fault, ratelimit, split, timeout
from sidecar.layers.retry import layer as retry
from sidecar.layers.retry.budget import Budget
from sidecar.policy.route_model import Fault, FaultAbort, RateLimit, RetryPolicy, Split
from sidecar.telemetry.registry import RouteDecisions

CALL = CallDescriptor(method="/apex.mesh.v1.Echo/Unary", deadline=None)
OK = Status(Code.OK)


async def upstream(request: Request) -> Response:
    async for _ in request.messages:
        pass
    return BufferedResponse(OK, [b"answer"], (("x", "1"),))


async def one_message() -> AsyncIterator[bytes]:
    yield b"question"


def policies(counters: RouteDecisions, rng: random.Random) -> dict[str, tuple[list[Layer], Service]]:
    limiter = ratelimit.Limiter(RateLimit(rate=1e12, burst=10**9))
    retry_policy = RetryPolicy(max_attempts=3, idempotent_methods=("*",))
    retrier = retry.Retrier(retry_policy, Budget(retry_policy.budget), counters, rng)
    splitter = split.service(
        Split((("v1", 90), ("v2", 10))), {"v1": upstream, "v2": upstream}, lambda _: True, rng, counters
    )
    no_fault = Fault(abort=FaultAbort(0.0, Code.UNAVAILABLE))
    return {
        "no policy": ([], upstream),
        "rate limit": ([ratelimit.RateLimiting(limiter, "r", counters)], upstream),
        "fault (0%)": ([fault.FaultInjection(no_fault, "r", rng, counters)], upstream),
        "timeout": ([timeout.RouteTimeout(5.0, counters)], upstream),
        "retry": ([retry.Retry(retrier)], upstream),
        "split 90/10": ([], splitter),
        "all of them": (
            [
                ratelimit.RateLimiting(limiter, "r", counters),
                fault.FaultInjection(no_fault, "r", rng, counters),
                timeout.RouteTimeout(5.0, counters),
                retry.Retry(retrier),
            ],
            splitter,
        ),
    }


async def drive(service: Service, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        request = Request(CALL, one_message())
        response = await service(request)
        await response.initial_metadata()
        while await response.read() is not None:
            pass
        request.finish(await response.status())
    return (time.perf_counter() - start) / calls * 1e6


async def main(calls: int) -> None:
    counters = RouteDecisions("bench", "r")
    rows = policies(counters, random.Random(1))
    base = 0.0
    print(f"{'policy':<14} {'us/call':>8} {'over no policy':>15}   ({calls} calls each, best of 3)")
    for name, (layers, inner) in rows.items():
        service = stack(layers, inner)
        await drive(service, min(calls, 2000))  # warm up
        best = min([await drive(service, calls) for _ in range(3)])
        if name == "no policy":
            base = best
        print(f"{name:<14} {best:8.2f} {best - base:+14.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    uvloop.run(main(parser.parse_args().calls))  # the event loop the sidecar runs on
