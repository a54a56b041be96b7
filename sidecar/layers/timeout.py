"""Deadlines: refuse calls already out of time; give a route's calls its timeout (min with the caller's)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from sidecar.core.call import Code, Status
from sidecar.core.service import Layer, Request, Response, Service, local_error
from sidecar.layers.decisions import RouteDecisions

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


def effective_deadline(caller: float | None, now: float, timeout: float | None) -> float | None:
    """The earlier of the caller's deadline and `now + timeout` (None when neither is set)."""
    if timeout is None:
        return caller
    mine = now + timeout
    return mine if caller is None or mine < caller else caller


def route_timeout(seconds: float, counters: RouteDecisions, clock: Callable[[], float] = time.monotonic) -> Layer:
    """A layer giving the route's calls the deadline min(caller's, now + `seconds`).

    The connector sends the remaining time upstream (grpc-timeout), so the upstream call ends
    with DEADLINE_EXCEEDED when the route's deadline passes; those calls are counted as timeouts.
    """

    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            call = request.call
            deadline = effective_deadline(call.deadline, clock(), seconds)
            if deadline != call.deadline:
                request.call = dataclasses.replace(call, deadline=deadline)
                request.on_finish(_count_timeout)
            return await inner(request)

        def _count_timeout(status: Status) -> None:
            if status.code is Code.DEADLINE_EXCEEDED:
                counters.timeouts += 1

        return service

    return layer
