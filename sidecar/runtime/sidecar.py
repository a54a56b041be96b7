"""A running sidecar: listeners, admin server and DNS discovery around a swappable policy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from apex.mesh.v1 import config_pb2

from sidecar.admin.server import AdminServer
from sidecar.core.service import Connector
from sidecar.discovery import dns
from sidecar.discovery.endpoints import Resolved
from sidecar.discovery.method_kinds import MethodKinds
from sidecar.layers.routing import Router
from sidecar.policy import convert
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap, Policy
from sidecar.runtime import health_runner, stack
from sidecar.runtime.cluster_state import ClusterRuntime
from sidecar.runtime.observe import ClusterWatch, Observer, route_decisions
from sidecar.telemetry.registry import Priority
from sidecar.telemetry.settings import observability
from sidecar.transport.client import GrpcConnector
from sidecar.transport.server import GrpcListener, Switch

if TYPE_CHECKING:
    from sidecar.control.client import ControlClient

log = logging.getLogger(__name__)


class Sidecar:
    def __init__(
        self,
        config: config_pb2.Bootstrap,
        bootstrap: Bootstrap,
        source: str,
        connector: Connector | None = None,
    ) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.source = source
        self.state = stack.State()
        self.state.cache.configure(bootstrap.cache)
        self.policy: Policy = bootstrap.policy
        self._connector = connector or GrpcConnector()
        # Method kinds the connector learns (reflection); listeners relay known-unary methods as unary calls.
        self.kinds: MethodKinds | None = getattr(self._connector, "kinds", None)
        self._routers: Mapping[str, Router] = {}
        self._switches: dict[str, Switch] = {}
        self._listeners: list[GrpcListener] = []
        self._admin: AdminServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._retired_unrouted = 0
        self.control: ControlClient | None = None
        self.observer = Observer(observability(config), bootstrap.node)
        self.state.telemetry = self.observer.registry
        self.state.measure = self.observer.settings.measuring
        self.state.tracer = self.observer.tracer
        self.observer.registry.unrouted = self.unrouted
        self.observer.registry.pullers.append(route_decisions(self.state.routes))
        self.observer.registry.refreshers.append(ClusterWatch(self.state.clusters, self.observer.registry))

    # --- policy -------------------------------------------------------------------------------

    def apply(self, policy_msg: config_pb2.Policy) -> Policy:
        """Validate and install a new policy; in-flight calls finish on the stack they started on."""
        events = self.state.telemetry
        try:
            policy = convert.policy(policy_msg)
            missing = [
                lis.route_table
                for lis in self.bootstrap.listeners
                if lis.route_table not in {t.name for t in policy.route_tables}
            ]
            if missing:
                raise ConfigError("policy.route_tables", f"missing route table(s) for listeners: {missing}")
        except ConfigError as exc:
            self.rejected(exc, policy_msg.version)
            raise
        self._install(policy)
        events.event("policy_applied", Priority.MEDIUM, f"policy version {policy.version!r} in force",
                     correlation_id=policy.version)  # fmt: skip
        self.config.policy.CopyFrom(policy_msg)
        return policy

    def rejected(self, error: ConfigError, version: str) -> None:
        """Report a rejected policy (bad push or bad reloaded file) as a HIGH event."""
        self.state.telemetry.event("policy_rejected", Priority.HIGH, str(error), correlation_id=version)

    def _install(self, policy: Policy) -> None:
        routers = stack.build(policy, self.bootstrap.listeners, self.state, self._connector)
        self._retired_unrouted += sum(r.unrouted for r in self._routers.values())
        for name, router in routers.items():
            switch = self._switches.setdefault(name, Switch(router))
            switch.service = router
        self._routers = routers
        self.policy = policy
        self.state.telemetry.policy_version = policy.version

    def unrouted(self) -> int:
        return self._retired_unrouted + sum(r.unrouted for r in self._routers.values())

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.bootstrap.control_plane is not None:
            from sidecar.control.client import ControlClient

            self.control = ControlClient(self, self.bootstrap.control_plane)
            self.control.restore()  # the last good policy, when there is one; else the bootstrap
        self._install(self.policy)
        self.state.telemetry.event(
            "policy_applied", Priority.MEDIUM, f"bootstrap policy version {self.policy.version!r} in force",
            correlation_id=self.policy.version,
        )  # fmt: skip
        for listener in self.bootstrap.listeners:
            server = GrpcListener(
                listener.name,
                str(listener.address),
                self._switches[listener.name],
                listener.default_authority,
                self.kinds,
            )
            await server.start()
            self._listeners.append(server)
            log.info("listener %s (%s) on %s", listener.name, listener.direction.value, server.bound)
        if self.bootstrap.admin is not None:
            self._admin = AdminServer(str(self.bootstrap.admin), self)
            await self._admin.start()
            log.info("admin on %s", self._admin.bound)
        for endpoints in self.state.endpoints.values():
            await dns.refresh_once(endpoints)
        self._tasks.append(asyncio.create_task(dns.watch(lambda: list(self.state.endpoints.values()))))
        self._tasks.append(asyncio.create_task(health_runner.run(self._cluster_endpoints)))
        if self.control is not None:
            self._tasks.append(asyncio.create_task(self.control.run()))
        await self.observer.start()
        if self._admin is not None:
            await self._admin.set_serving(True)

    def _cluster_endpoints(self) -> list[tuple[ClusterRuntime, tuple[Resolved, ...]]]:
        """Each cluster's runtime state with its current endpoints (for the health-check task)."""
        state = self.state
        return [(rt, state.endpoints[name].current) for name, rt in state.clusters.items() if name in state.endpoints]

    def bound_addresses(self) -> dict[str, str]:
        bound = {lis.name: lis.bound for lis in self._listeners}
        if self._admin is not None:
            bound["admin"] = self._admin.bound
        if self.observer.metrics is not None:
            bound["metrics"] = self.observer.metrics.bound
        return bound

    def effective_config(self) -> config_pb2.Bootstrap:
        effective = config_pb2.Bootstrap()
        effective.CopyFrom(self.config)
        effective.node.service = self.bootstrap.node.service
        effective.node.instance = self.bootstrap.node.instance
        return effective

    async def stop(self, grace: float | None = 5.0) -> None:
        """Stop accepting, let in-flight calls finish for up to `grace` seconds, then close."""
        if self._admin is not None:
            await self._admin.set_serving(False)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(lis.stop(grace) for lis in self._listeners))
        if self._admin is not None:
            await self._admin.stop(0)
        await self.observer.stop()
        close = getattr(self._connector, "close", None)
        if close is not None:
            await close()
