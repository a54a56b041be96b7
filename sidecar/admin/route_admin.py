"""RouteAdmin: counters of every route-level decision (split, retries, limits, faults), from the counter store."""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.v1 import route_policy_pb2, route_policy_pb2_grpc

from sidecar.telemetry.registry import Registry, RouteDecisions

_SCALARS = tuple(name for name in RouteDecisions.__slots__ if name not in ("listener", "route", "split"))


def snapshot(counters: Registry) -> route_policy_pb2.RouteDecisions:
    """Each route's decisions; `requests` is the calls its metrics layer counted (every route has one)."""
    out = route_policy_pb2.RouteDecisions(policy_version=counters.policy_version)
    calls = {(key[0], key[1]): series.started for key, series in counters.current_routes()}
    for key in sorted(counters.decisions):
        decisions = counters.decisions[key]
        msg = out.routes.add(listener=decisions.listener, route=decisions.route, split=dict(decisions.split))
        for name in _SCALARS:
            setattr(msg, name, getattr(decisions, name))
        msg.requests = calls.get(key, 0)
    return out


class RouteAdminServicer(route_policy_pb2_grpc.RouteAdminServicer):
    def __init__(self, counters: Registry) -> None:
        self._counters = counters

    async def GetRouteDecisions(
        self, request: route_policy_pb2.GetRouteDecisionsRequest, context: Any
    ) -> route_policy_pb2.RouteDecisions:
        return snapshot(self._counters)


def add_to_server(server: grpc.aio.Server, counters: Registry) -> None:
    route_policy_pb2_grpc.add_RouteAdminServicer_to_server(RouteAdminServicer(counters), server)
