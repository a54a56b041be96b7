"""Deadlines: refuse calls already out of time; give a route's calls its timeout (min with the caller's)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from sidecar.core.call import Code, Status
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.telemetry.registry import RouteDecisions

# Below this much time left, the upstream could not answer anyway: fail locally.
MIN_REMAINING = 0.001


def expired(deadline: float | None, now: float) -> bool:
    return deadline is not None and deadline - now < MIN_REMAINING


class Deadline:
    """Answer DEADLINE_EXCEEDED for calls that arrive already out of time (always in a route's stack)."""

    name = "deadline"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        clock = self.clock

        async def deadline(request: Request) -> Response:
            if expired(request.call.deadline, clock()):
                return local_error(Code.DEADLINE_EXCEEDED, "apex: deadline exceeded before the call was forwarded")
            return await inner(request)

        return deadline


def effective_deadline(caller: float | None, now: float, timeout: float | None) -> float | None:
    """The earlier of the caller's deadline and `now + timeout` (None when neither is set)."""
    if timeout is None:
        return caller
    mine = now + timeout
    return mine if caller is None or mine < caller else caller


class RouteTimeout:
    """Give the route's calls the deadline min(caller's, now + `seconds`).

    The connector sends the remaining time upstream (grpc-timeout), so the upstream call ends
    with DEADLINE_EXCEEDED when the route's deadline passes; those calls are counted as timeouts.
    """

    name = "timeout"

    def __init__(self, seconds: float, counters: RouteDecisions, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.counters = counters
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        seconds, counters, clock = self.seconds, self.counters, self.clock

        def count_timeout(status: Status) -> None:
            if status.code is Code.DEADLINE_EXCEEDED:
                counters.timeouts += 1

        async def route_timeout(request: Request) -> Response:
            call = request.call
            deadline = effective_deadline(call.deadline, clock(), seconds)
            if deadline != call.deadline:
                request.call = dataclasses.replace(call, deadline=deadline)
                request.on_finish(count_timeout)
            return await inner(request)

        return route_timeout
