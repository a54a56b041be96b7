"""Serve grpc.health.v1 and apex.mesh.v1.Admin on the admin address."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from sidecar.admin import cache_admin, cluster_admin, control_admin, observability, route_admin, security_admin
from sidecar.admin.access import AdminGuard, AdminInterceptor
from sidecar.admin.views import AdminViews, ConfigView
from sidecar.telemetry.registry import Registry
from sidecar.transport.grpc_aio.tls import server_credentials

if TYPE_CHECKING:  # an annotation only: importing it at start loads cryptography (docs/data-plane.md)
    from sidecar.security.credentials import Credentials


def config_dump(config: ConfigView) -> admin_pb2.ConfigDump:
    """The configuration in force, resolved endpoints and every stack by layer name."""
    dump = admin_pb2.ConfigDump(source=config.source(), bound_addresses=config.bound_addresses())
    dump.bootstrap.CopyFrom(config.effective_config())
    dump.method_kinds.update(config.method_kinds())
    resolved = config.resolved_endpoints()
    stacks = config.cluster_stacks()
    for name in sorted(set(resolved) | set(stacks)):
        dump.clusters.add(name=name, resolved_endpoints=resolved.get(name, ()), layers=stacks.get(name, ()))
    for (listener, route), layers in config.route_stacks().items():
        dump.route_stacks.add(listener=listener, route=route, layers=layers)
    return dump


def stats(counters: Registry) -> admin_pb2.Stats:
    """Per-route calls, in-flight, status codes and latency quantiles, read from the counter store."""
    out = admin_pb2.Stats(unrouted=counters.unrouted(), policy_version=counters.policy_version)
    out.transport.update(counters.transport_stats())
    for (listener, route, cluster), series in counters.current_routes():
        latency = series.latency
        p = latency.quantiles((50.0, 95.0, 99.0))
        out.routes.add(
            latency_count=latency.count,
            p50_seconds=p[50.0],
            p95_seconds=p[95.0],
            p99_seconds=p[99.0],
            listener=listener,
            route=route,
            cluster=cluster,
            calls=series.started,
            in_flight=series.in_flight,
            status_codes={code.name: n for code, n in series.codes.items()},
        )
    return out


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, config: ConfigView, counters: Registry) -> None:
        self._config = config
        self._counters = counters

    async def GetConfig(self, request: admin_pb2.GetConfigRequest, context: Any) -> admin_pb2.ConfigDump:
        return config_dump(self._config)

    async def GetStats(self, request: admin_pb2.GetStatsRequest, context: Any) -> admin_pb2.Stats:
        return stats(self._counters)


def add_to_server(server: grpc.aio.Server, config: ConfigView, counters: Registry) -> None:
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(config, counters), server)


class AdminServer:
    """The admin gRPC server; health reports SERVING once the listeners are up. `guard` says who may
    call (token, peer); with `credentials` it serves mTLS only (a client certificate is required)."""

    def __init__(
        self,
        address: str,
        views: AdminViews,
        guard: AdminGuard | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.address = address
        self.bound = ""
        self.health = HealthServicer()
        self.guard = guard or AdminGuard()
        self._credentials = credentials
        self._server = grpc.aio.server(interceptors=[AdminInterceptor(self.guard)])
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        # Every admin module registers the same way: add_to_server(server, <the view it reads>).
        add_to_server(self._server, views.config, views.counters)
        route_admin.add_to_server(self._server, views.counters)
        cluster_admin.add_to_server(self._server, views.clusters)
        cache_admin.add_to_server(self._server, views.cache)
        control_admin.add_to_server(self._server, views.control)
        observability.add_to_server(self._server, views.telemetry)
        security_admin.add_to_server(self._server, views.security)

    async def start(self) -> str:
        if self._credentials is not None:
            port = self._server.add_secure_port(self.address, server_credentials(self._credentials))
        else:
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
