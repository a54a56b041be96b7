"""Deadline math: effective deadline = min(caller's, now + route timeout); the layer sets and counts it."""

from __future__ import annotations

import asyncio

import pytest

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers import timeout
from sidecar.telemetry.registry import RouteDecisions


@pytest.mark.parametrize(
    ("caller", "now", "route", "expected"),
    [
        (None, 100.0, None, None),
        (None, 100.0, 2.0, 102.0),
        (105.0, 100.0, 2.0, 102.0),  # route timeout is shorter
        (101.0, 100.0, 2.0, 101.0),  # caller's deadline is shorter
        (101.0, 100.0, None, 101.0),
        (99.0, 100.0, 2.0, 99.0),  # already expired stays expired
    ],
)
def test_effective_deadline(caller: float | None, now: float, route: float | None, expected: float | None) -> None:
    assert timeout.effective_deadline(caller, now, route) == expected


def _through(caller_deadline: float | None, answer: Code) -> tuple[float | None, RouteDecisions]:
    seen: list[float | None] = []

    async def inner(request: Request) -> Response:
        seen.append(request.call.deadline)
        return BufferedResponse(Status(answer))

    counters = RouteDecisions("l", "r")
    svc = timeout.RouteTimeout(0.5, counters, clock=lambda: 10.0)(inner)

    async def run() -> None:
        request = Request(CallDescriptor(method="/p.S/M", deadline=caller_deadline), no_messages())
        response = await svc(request)
        request.finish(await response.status())

    asyncio.run(run())
    return seen[0], counters


def test_layer_shortens_the_deadline_and_counts_route_timeouts() -> None:
    deadline, counters = _through(None, Code.DEADLINE_EXCEEDED)
    assert deadline == 10.5 and counters.timeouts == 1
    deadline, counters = _through(20.0, Code.OK)
    assert deadline == 10.5 and counters.timeouts == 0


def test_the_callers_shorter_deadline_is_kept_and_its_expiry_is_not_a_route_timeout() -> None:
    deadline, counters = _through(10.2, Code.DEADLINE_EXCEEDED)
    assert deadline == 10.2 and counters.timeouts == 0


def test_expired() -> None:
    assert timeout.expired(1.0, 1.0)
    assert not timeout.expired(None, 1e9)
    assert not timeout.expired(2.0, 1.0)
