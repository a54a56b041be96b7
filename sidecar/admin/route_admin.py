"""RouteAdmin: counters of every route-level decision (split, retries, limits, faults)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from apex.mesh.v1 import route_policy_pb2, route_policy_pb2_grpc

from sidecar.layers.decisions import RouteDecisions

if TYPE_CHECKING:
    from sidecar.runtime.sidecar import Sidecar

_SCALARS = tuple(name for name in RouteDecisions.__slots__ if name not in ("listener", "route", "split"))


def snapshot(sidecar: Sidecar) -> route_policy_pb2.RouteDecisions:
    out = route_policy_pb2.RouteDecisions(policy_version=sidecar.policy.version)
    for key in sorted(sidecar.state.routes.decisions):
        counters = sidecar.state.routes.decisions[key]
        msg = out.routes.add(listener=counters.listener, route=counters.route, split=dict(counters.split))
        for name in _SCALARS:
            setattr(msg, name, getattr(counters, name))
    return out


class RouteAdminServicer(route_policy_pb2_grpc.RouteAdminServicer):
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def GetRouteDecisions(
        self, request: route_policy_pb2.GetRouteDecisionsRequest, context: Any
    ) -> route_policy_pb2.RouteDecisions:
        return snapshot(self._sidecar)


def add_to_server(sidecar: Sidecar, server: grpc.aio.Server) -> None:
    route_policy_pb2_grpc.add_RouteAdminServicer_to_server(RouteAdminServicer(sidecar), server)
