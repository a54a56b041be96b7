"""Per-route call counters: calls, in-flight and final status codes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sidecar.core.call import Code, Status
from sidecar.core.service import Layer, Request, Response, Service


@dataclass(slots=True)
class RouteCounters:
    listener: str
    route: str
    cluster: str
    calls: int = 0
    in_flight: int = 0
    codes: Counter[Code] = field(default_factory=Counter)

    def finished(self, status: Status) -> None:
        self.in_flight -= 1
        self.codes[status.code] += 1


def count(counters: RouteCounters) -> Layer:
    """A layer that counts every call passing through into `counters`."""

    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            counters.calls += 1
            counters.in_flight += 1
            request.on_finish(counters.finished)
            return await inner(request)

        return service

    return layer
