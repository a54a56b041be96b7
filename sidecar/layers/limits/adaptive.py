"""The adaptive concurrency layer: asks GradientLimit for a slot, rejects fast or times the call."""

from __future__ import annotations

import time
from collections.abc import Callable

from sidecar.core.call import Code, Status
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.layers.limits.gradient import GradientLimit


class AdaptiveLayer:
    """Outermost layer of a cluster stack: over the adaptive limit, a call is refused before it
    queues in admission (caps) or reaches the balancer; admitted calls are timed until they finish."""

    name = "adaptive_concurrency"

    def __init__(self, cluster: str, limit: GradientLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.cluster = cluster
        self.limit = limit
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        limit, clock, cluster = self.limit, self.clock, self.cluster

        async def adapt(request: Request) -> Response:
            start = clock()
            if not limit.acquire(start):
                return local_error(
                    limit.policy.reject_code,
                    f"apex: cluster {cluster!r} over its adaptive concurrency limit "
                    f"({limit.in_flight} in flight, limit {limit.current})",
                )

            def release(status: Status) -> None:
                now = clock()
                limit.release(now - start, status.code is Code.OK, now)

            request.on_finish(release)
            return await inner(request)

        return adapt
