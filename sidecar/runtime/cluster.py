"""The innermost service of a route: pick one endpoint of the cluster and connect to it."""

from __future__ import annotations

from sidecar.core.call import Code
from sidecar.core.service import Connector, Request, Response, local_error
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.balance.round_robin import RoundRobin


class ClusterService:
    __slots__ = ("_authority", "_balancer", "_connector", "endpoints")

    def __init__(self, endpoints: EndpointSet, connector: Connector) -> None:
        self.endpoints = endpoints
        self._connector = connector
        self._authority = endpoints.cluster.authority
        self._balancer = RoundRobin()

    async def __call__(self, request: Request) -> Response:
        endpoint = self._balancer.pick(self.endpoints.current)
        if endpoint is None:
            return local_error(
                Code.UNAVAILABLE, f"apex: cluster {self.endpoints.cluster.name!r} has no resolved endpoints"
            )
        return await self._connector(endpoint.address, self._authority, request)
