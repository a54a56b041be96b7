"""Serve grpc.health.v1 and apex.mesh.v1.Admin on the admin address."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, telemetry_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from sidecar.admin import cache_admin, cluster_admin, control_admin, route_admin
from sidecar.admin.observability import ObservabilityServicer

if TYPE_CHECKING:
    from sidecar.runtime.sidecar import Sidecar


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    async def GetConfig(self, request: admin_pb2.GetConfigRequest, context: Any) -> admin_pb2.ConfigDump:
        sc = self._sidecar
        dump = admin_pb2.ConfigDump(source=sc.source, bound_addresses=sc.bound_addresses())
        dump.bootstrap.CopyFrom(sc.effective_config())
        if sc.kinds is not None:
            dump.method_kinds.update(sc.kinds.snapshot())
        for name, endpoints in sorted(sc.state.endpoints.items()):
            dump.clusters.add(name=name, resolved_endpoints=[r.address for r in endpoints.current])
        return dump

    async def GetStats(self, request: admin_pb2.GetStatsRequest, context: Any) -> admin_pb2.Stats:
        sc = self._sidecar
        stats = admin_pb2.Stats(unrouted=sc.unrouted(), policy_version=sc.policy.version)
        for counters in sc.state.counters.values():
            stats.routes.add(
                listener=counters.listener,
                route=counters.route,
                cluster=counters.cluster,
                calls=counters.calls,
                in_flight=counters.in_flight,
                status_codes={code.name: n for code, n in counters.codes.items()},
            )
        return stats


class AdminServer:
    """The admin gRPC server; health reports SERVING once the listeners are up."""

    def __init__(self, address: str, sidecar: Sidecar) -> None:
        self.address = address
        self.bound = ""
        self.health = HealthServicer()
        self._server = grpc.aio.server()
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(sidecar), self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        cache_admin.add_to_server(self._server, sidecar)
        route_admin.add_to_server(sidecar, self._server)
        cluster_admin.register(self._server, sidecar)
        control_admin.add_to_server(self._server, sidecar)
        telemetry_pb2_grpc.add_ObservabilityAdminServicer_to_server(ObservabilityServicer(sidecar), self._server)

    async def start(self) -> str:
        port = self._server.add_insecure_port(self.address)
        if port == 0:
            raise OSError(f"admin listener could not bind {self.address}")
        self.bound = f"{self.address.rpartition(':')[0]}:{port}"
        await self._server.start()
        return self.bound

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", "apex.mesh.v1.Sidecar"):
            await self.health.set(service, status)

    async def stop(self, grace: float | None) -> None:
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
