"""Route matching: pick the first route of a table whose match accepts the call."""

from __future__ import annotations

from collections.abc import Mapping

from sidecar.core.call import CallDescriptor, Code
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.policy.model import HeaderMatch, HeaderRule, PathKind, Route, RouteMatch, RouteTable


def _header_ok(rule: HeaderMatch, call: CallDescriptor) -> bool:
    value = call.header(rule.name)
    if rule.rule is HeaderRule.PRESENT:
        hit = value is not None
    elif value is None:
        hit = False
    else:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        hit = text == rule.value if rule.rule is HeaderRule.EXACT else text.startswith(rule.value)
    return hit != rule.invert


def matches(match: RouteMatch, call: CallDescriptor) -> bool:
    """True when every part of `match` accepts `call`."""
    if match.authority and match.authority != call.authority:
        return False
    kind = match.path_kind
    if kind is PathKind.METHOD and call.method != match.path:
        return False
    if kind is PathKind.PREFIX and not call.method.startswith(match.path):
        return False
    if kind is PathKind.SERVICE and call.service != match.path:
        return False
    return all(_header_ok(h, call) for h in match.headers)


def select(table: RouteTable, call: CallDescriptor) -> Route | None:
    """The first route of `table` matching `call`, or None."""
    for route in table.routes:
        if matches(route.match, call):
            return route
    return None


class Router:
    """Dispatch each call to the service built for its route; unrouted calls get UNIMPLEMENTED."""

    __slots__ = ("_services", "table", "unrouted")

    def __init__(self, table: RouteTable, services: Mapping[str, Service]) -> None:
        self.table = table
        self._services = dict(services)
        self.unrouted = 0

    async def __call__(self, request: Request) -> Response:
        route = select(self.table, request.call)
        if route is None:
            self.unrouted += 1
            call = request.call
            return local_error(
                Code.UNIMPLEMENTED,
                f"apex: no route for {call.method} (authority {call.authority!r}) in route table {self.table.name!r}",
            )
        return await self._services[route.name](request)
