"""Local rate limiting: a token bucket per route, or per caller identified by a header."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from sidecar.core.call import CallDescriptor, Code
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.policy.route_model import RateLimit
from sidecar.telemetry.registry import RouteDecisions


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; each call takes one (sans-IO: pass `now`)."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)  # start full
        self.stamp = now

    def take(self, now: float) -> bool:
        """Refill for the time since the last call (never above burst), then take a token if one is there."""
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Limiter:
    """The route's bucket, or one bucket per caller (LRU-bounded to `max_callers`)."""

    __slots__ = ("_buckets", "policy")

    def __init__(self, policy: RateLimit) -> None:
        self.policy = policy
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def key(self, call: CallDescriptor) -> str:
        if not self.policy.per_header:
            return ""
        value = call.header(self.policy.per_header)
        if value is None:
            return ""  # callers without the header share one bucket
        return value.decode("latin-1") if isinstance(value, bytes) else value

    def allow(self, call: CallDescriptor, now: float) -> bool:
        key = self.key(call)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.policy.rate, self.policy.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.policy.max_callers:
                self._buckets.popitem(last=False)  # forget the least recently seen caller
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiting:
    """Reject calls over the limit with RESOURCE_EXHAUSTED; in shadow mode only count them."""

    name = "rate_limit"

    def __init__(
        self, limiter: Limiter, route: str, counters: RouteDecisions, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limiter = limiter
        self.route = route
        self.counters = counters
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        limiter, counters, clock = self.limiter, self.counters, self.clock
        policy = limiter.policy
        message = f"apex: rate limit of route {self.route!r} exceeded ({policy.rate:g}/s, burst {policy.burst})"

        async def rate_limit(request: Request) -> Response:
            if not limiter.allow(request.call, clock()):
                if policy.enforced:
                    counters.rate_limited += 1
                    return local_error(Code.RESOURCE_EXHAUSTED, message)
                counters.rate_limited_shadow += 1
            return await inner(request)

        return rate_limit
