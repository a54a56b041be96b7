"""Deadlines: refuse calls whose deadline has already passed instead of sending them upstream."""

from __future__ import annotations

import time
from collections.abc import Callable

from sidecar.core.call import Code
from sidecar.core.service import Layer, Request, Response, Service, local_error

# Below this much time left, the upstream could not answer anyway: fail locally.
MIN_REMAINING = 0.001


def expired(deadline: float | None, now: float) -> bool:
    return deadline is not None and deadline - now < MIN_REMAINING


def deadline(clock: Callable[[], float] = time.monotonic) -> Layer:
    """A layer answering DEADLINE_EXCEEDED for calls that arrive already out of time."""

    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            if expired(request.call.deadline, clock()):
                return local_error(Code.DEADLINE_EXCEEDED, "apex: deadline exceeded before the call was forwarded")
            return await inner(request)

        return service

    return layer
