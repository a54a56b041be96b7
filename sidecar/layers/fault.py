"""Fault injection: delay and/or abort a configured percentage of a route's calls (testing aid)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sidecar.core.call import Code
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.policy.route_model import Fault
from sidecar.telemetry.registry import RouteDecisions


@dataclass(frozen=True, slots=True)
class Injection:
    delay: float | None = None
    abort: Code | None = None


NONE = Injection()


def decide(fault: Fault, rng: random.Random) -> Injection:
    """Draw the faults for one call: each kind independently, with its percentage."""
    delay = abort = None
    if fault.delay is not None and rng.random() * 100 < fault.delay.percent:
        delay = fault.delay.duration
    if fault.abort is not None and rng.random() * 100 < fault.abort.percent:
        abort = fault.abort.code
    return Injection(delay, abort) if delay is not None or abort is not None else NONE


class FaultInjection:
    """Delay first (like Envoy's fault filter), then abort with the configured status."""

    name = "fault"

    def __init__(
        self,
        fault: Fault,
        route: str,
        rng: random.Random,
        counters: RouteDecisions,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.fault = fault
        self.route = route
        self.rng = rng
        self.counters = counters
        self.sleep = sleep

    def __call__(self, inner: Service) -> Service:
        fault, rng, counters, sleep = self.fault, self.rng, self.counters, self.sleep
        aborted = f"apex: fault injected by route {self.route!r}"

        async def inject(request: Request) -> Response:
            injection = decide(fault, rng)
            if injection.delay is not None:
                counters.fault_delays += 1
                await sleep(injection.delay)
            if injection.abort is not None:
                counters.fault_aborts += 1
                return local_error(injection.abort, aborted)
            return await inner(request)

        return inject
