"""Token buckets with a fake clock: burst, refill, per-caller buckets, LRU bound, shadow mode."""

from __future__ import annotations

import asyncio

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers import ratelimit
from sidecar.policy.route_model import RateLimit
from sidecar.telemetry.registry import RouteDecisions


def test_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = ratelimit.TokenBucket(rate=10.0, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)  # one token after 100 ms
    assert not bucket.take(0.1)
    # A long idle refills to the burst, never above.
    assert sum(bucket.take(100.0) for _ in range(20)) == 5


def test_bucket_admits_rate_times_time_plus_burst_over_a_long_run() -> None:
    bucket = ratelimit.TokenBucket(rate=20.0, burst=10, now=0.0)
    admitted = 0
    now = 0.0
    for _ in range(10_000):  # 1000 calls per second for 10 s
        now += 0.001
        admitted += bucket.take(now)
    assert 20 * 10 + 10 - 1 <= admitted <= 20 * 10 + 10


def test_bucket_ignores_a_clock_going_backwards() -> None:
    bucket = ratelimit.TokenBucket(rate=1.0, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert bucket.take(11.0)


def _call(caller: str | None) -> CallDescriptor:
    metadata = () if caller is None else (("x-caller", caller),)
    return CallDescriptor(method="/p.S/M", metadata=metadata)


def test_per_caller_buckets_are_independent_and_bounded() -> None:
    limiter = ratelimit.Limiter(RateLimit(rate=1.0, burst=2, per_header="x-caller", max_callers=3))
    assert [limiter.allow(_call("a"), 0.0) for _ in range(3)] == [True, True, False]
    assert [limiter.allow(_call("b"), 0.0) for _ in range(3)] == [True, True, False]
    assert [limiter.allow(_call(None), 0.0) for _ in range(3)] == [True, True, False]
    limiter.allow(_call("c"), 0.0)  # 4th caller evicts the least recently seen ("a")
    assert len(limiter) == 3
    assert limiter.allow(_call("a"), 0.0)  # a fresh bucket


async def _ok(request: Request) -> Response:
    return BufferedResponse(Status(Code.OK))


def _run(policy: RateLimit, calls: int) -> tuple[list[Code], RouteDecisions]:
    counters = RouteDecisions("l", "r")
    now = [0.0]
    svc = ratelimit.RateLimiting(ratelimit.Limiter(policy), "r", counters, clock=lambda: now[0])(_ok)

    async def run() -> list[Code]:
        codes = []
        for _ in range(calls):
            response = await svc(Request(_call(None), no_messages()))
            codes.append((await response.status()).code)
        return codes

    return asyncio.run(run()), counters


def test_layer_rejects_the_excess_with_resource_exhausted() -> None:
    codes, counters = _run(RateLimit(rate=1.0, burst=3), 10)
    assert codes.count(Code.OK) == 3
    assert codes.count(Code.RESOURCE_EXHAUSTED) == 7
    assert counters.rate_limited == 7 and counters.rate_limited_shadow == 0


def test_shadow_mode_counts_but_rejects_nothing() -> None:
    codes, counters = _run(RateLimit(rate=1.0, burst=3, enforced=False), 10)
    assert codes == [Code.OK] * 10
    assert counters.rate_limited == 0 and counters.rate_limited_shadow == 7
