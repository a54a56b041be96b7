"""A running sidecar: listeners, admin server and DNS discovery around a swappable policy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from apex.mesh.security.secrets import redact_url, resolve
from apex.mesh.v1 import config_pb2

from sidecar.admin.access import AccessGuard, AdminGuard
from sidecar.admin.server import AdminServer
from sidecar.control.client import ControlClient
from sidecar.core.transport import Listener, ListenerSpec, Switch, Transports
from sidecar.discovery import dns
from sidecar.discovery.endpoints import Resolved
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.layers.routing import Router
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap, Direction, Node, Policy
from sidecar.runtime import admin_views, health_runner, stack
from sidecar.runtime.jwks import JwksFetcher
from sidecar.runtime.observe import ClusterWatch, Observer, cache_counters
from sidecar.runtime.security_watch import SecurityWatch
from sidecar.security.peer import MtlsMode, PeerCheck
from sidecar.security.tls import ListenerTls
from sidecar.telemetry.registry import Priority
from sidecar.telemetry.settings import observability

if TYPE_CHECKING:
    from sidecar.policy.security_model import AdminAccess
    from sidecar.runtime.workload import Workload
    from sidecar.security.credentials import Credentials

log = logging.getLogger(__name__)


class Sidecar:
    """One sidecar process's listeners, admin server and policy; the control client's `PolicyHost`.

    `config` is the bootstrap protobuf, kept only for the effective-config dump: everything the
    sidecar runs on is the validated model (`bootstrap`, `policy`).
    """

    def __init__(
        self,
        config: config_pb2.Bootstrap,
        bootstrap: Bootstrap,
        source: str,
        transports: Transports | None = None,
    ) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.source = source
        self.state = stack.State()
        self.state.cache.configure(bootstrap.cache)
        self.policy: Policy = bootstrap.policy
        # Workload identity and mTLS (docs/security.md); None without a `security` section.
        self.workload: Workload | None = None
        if bootstrap.security is not None:
            from sidecar.runtime.workload import Workload  # cryptography only with an identity (~8 MB RSS)

            self.workload = Workload(bootstrap.security)
        # Listeners and connectors by the transport each listener/cluster names (sidecar/core/transport.py).
        tls = None if self.workload is None else self.workload.client_tls
        self._transports = transports or Transports(tls=tls)
        self.kinds = self._transports  # .snapshot(): method kinds the transports learned (admin dump)
        self._routers: Mapping[str, Router] = {}
        self._switches: dict[str, Switch] = {}
        self._listeners: list[Listener] = []
        self._admin: AdminServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._retired_unrouted = 0
        self.control: ControlClient | None = None
        self.jwks = JwksFetcher(self.state.jwks)  # JWT providers' keys, fetched in the background
        settings = observability(config)
        metrics_tls = None
        token, check = self._access(settings.metrics_access, "metrics")
        if check is not None:
            assert self.workload is not None  # validated: metrics mTLS needs `security`
            metrics_tls = ListenerTls(self.workload.credentials, check)  # HTTPS, handshake failures counted
        metrics_guard = AccessGuard(token, check, name="metrics")
        self.observer = Observer(settings, bootstrap.node, metrics_guard, metrics_tls)
        self.state.telemetry = self.observer.registry
        self.state.measure = self.observer.settings.measuring
        self.state.tracer = self.observer.tracer
        self.observer.registry.unrouted = self.unrouted
        self.observer.registry.transport_stats = self._transports.stats
        self.observer.registry.refreshers.append(cache_counters(self.state.cache, self.observer.registry))
        self.observer.registry.refreshers.append(ClusterWatch(self.state.clusters, self.observer.registry))
        access_tls = {} if metrics_tls is None else {"metrics": metrics_tls}
        watch = SecurityWatch(self.observer.registry, self.state, self.workload, self._guards, access_tls)
        self.observer.registry.refreshers.append(watch)

    # --- policy -------------------------------------------------------------------------------

    @property
    def node(self) -> Node:
        return self.bootstrap.node

    def apply(self, policy: Policy, message: config_pb2.Policy | None = None) -> bool:
        """Install a validated policy; in-flight calls finish on the stack they started on.

        Returns False when `policy` equals the one in force: nothing is rebuilt (a control-plane
        re-push after a reconnect, a SIGHUP with an unchanged file). `message` is the protobuf the
        policy was converted from, kept only for the effective-config dump (None: the dump shows
        the version alone). A policy that does not fit the listeners raises ConfigError (reported
        as a `policy_rejected` event) and the policy in force stays.
        """
        if not isinstance(policy, Policy):  # untyped callers (signal handlers) fail loudly, not halfway
            raise TypeError(f"Sidecar.apply takes a validated Policy (sidecar.policy.convert), not {type(policy)}")
        tables = {t.name for t in policy.route_tables}
        missing = [lis.route_table for lis in self.bootstrap.listeners if lis.route_table not in tables]
        if missing:
            error = ConfigError("policy.route_tables", f"missing route table(s) for listeners: {missing}")
            self.rejected(error, policy.version)
            raise error
        installed = policy != self.policy
        if installed:
            self._install(policy)
            message_text = f"policy version {policy.version!r} in force"
            self.state.telemetry.event("policy_applied", Priority.MEDIUM, message_text, correlation_id=policy.version)
        if message is not None:
            self.config.policy.CopyFrom(message)
        elif installed:
            self.config.policy.Clear()
            self.config.policy.version = policy.version
        return installed

    def rejected(self, error: ConfigError, version: str) -> None:
        """Report a rejected policy (bad push or bad reloaded file) as a HIGH event."""
        self.state.telemetry.event("policy_rejected", Priority.HIGH, str(error), correlation_id=version)

    def _install(self, policy: Policy) -> None:
        routers = stack.build(policy, self.bootstrap.listeners, self.state, self._transports.connector)
        self._retired_unrouted += sum(r.unrouted for r in self._routers.values())
        for name, router in routers.items():
            switch = self._switches.setdefault(name, Switch(router))
            switch.service = router
        self._routers = routers
        self.policy = policy
        self.state.telemetry.policy_version = policy.version

    def set_discovered(self, cluster: str, addresses: tuple[str, ...]) -> bool:
        """Install a cluster's discovered endpoints (control plane); True when the set changed."""
        state = self.state
        changed = state.discovered.get(cluster) != addresses
        state.discovered[cluster] = addresses
        endpoints = state.endpoints.get(cluster)
        if endpoints is not None and endpoints.cluster.discover and endpoints.set_discovered(addresses):
            log.info("cluster %s endpoints now %s", cluster, [r.address for r in endpoints.current])
        return changed

    def discovered(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self.state.discovered)

    def unrouted(self) -> int:
        return self._retired_unrouted + sum(r.unrouted for r in self._routers.values())

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.bootstrap.control_plane is not None:
            self.control = ControlClient(self, self.bootstrap.control_plane)
            self.control.restore()  # the last good policy, when there is one; else the bootstrap
        self._install(self.policy)
        self.state.telemetry.event(
            "policy_applied", Priority.MEDIUM, f"bootstrap policy version {self.policy.version!r} in force",
            correlation_id=self.policy.version,
        )  # fmt: skip
        await self.jwks.start()  # one fetch of every JWKS before the listeners open
        if self.workload is not None:
            await self._identity()
        for listener in self.bootstrap.listeners:
            tls = None if self.workload is None else self.workload.listener_tls(listener)
            spec = ListenerSpec(
                listener.name, str(listener.address), listener.default_authority, listener.limits, tls, listener.h2
            )
            server = self._transports.listener(listener.transport, spec, self._switches[listener.name])
            await server.start()
            self._listeners.append(server)
            log.info("listener %s (%s) on %s", listener.name, listener.direction.value, server.bound)
        if self.bootstrap.admin is not None:
            self._admin = self._admin_server()
            await self._admin.start()
            log.info("admin on %s", self._admin.bound)
        for endpoints in self.state.endpoints.values():
            await dns.refresh_once(endpoints)
        self._tasks.append(asyncio.create_task(dns.watch(lambda: list(self.state.endpoints.values()))))
        self._tasks.append(asyncio.create_task(health_runner.run(self._cluster_endpoints, self._transports.prober())))
        if self.control is not None:
            self._tasks.append(asyncio.create_task(self.control.run()))
        await self.observer.start()
        if self._admin is not None:
            await self._admin.set_serving(True)

    def _access(self, access: AdminAccess, path: str) -> tuple[str | None, PeerCheck | None]:
        """The admin's or the metrics listener's token (resolved from its reference) and peer check."""
        token = None
        if access.token is not None:
            try:
                token = resolve(access.token)
            except ValueError as exc:
                raise ConfigError(f"{path}.token", str(exc)) from None
        check: PeerCheck | None = None
        if access.mtls:
            assert self.workload is not None  # validated: mTLS needs `security`
            check = PeerCheck(MtlsMode.STRICT, self.workload.security.trust_domain, access.allowed_principals)
        return token, check

    def _guards(self) -> dict[str, AccessGuard]:
        """The access guards in force, by listener (security series on /metrics)."""
        guards: dict[str, AccessGuard] = {}
        if self._admin is not None:
            guards["admin"] = self._admin.guard
        if self.observer.metrics is not None:
            guards["metrics"] = self.observer.metrics.guard
        return guards

    def _admin_server(self) -> AdminServer:
        """The admin listener with its access rule (token and/or mTLS, docs/security.md)."""
        token, check = self._access(self.bootstrap.admin_access, "admin")
        credentials: Credentials | None = None
        if check is not None:
            assert self.workload is not None
            credentials = self.workload.credentials
        return AdminServer(str(self.bootstrap.admin), admin_views.of(self), AdminGuard(token, check), credentials)

    async def _identity(self) -> None:
        """Certificates before listeners: read from files now; from the mesh CA, the stream asks
        for one (mTLS listeners refuse handshakes until it arrives, the data path never waits)."""
        assert self.workload is not None
        if self.workload.files is not None:
            self.workload.load_files()
            self._tasks.append(asyncio.create_task(self.workload.watch_files()))
        if self.control is not None:
            self.control.token = self.workload.token
            self.control.issuer = self.workload.issuer
            self.control.certificate_ttl = self.workload.security.certificate_ttl

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

    def inbound_address(self) -> str:
        """The bound address of the first inbound listener ("" before start or without one)."""
        inbound = [lis.name for lis in self.bootstrap.listeners if lis.direction == Direction.INBOUND]
        return self.bound_addresses().get(inbound[0], "") if inbound else ""

    def effective_config(self) -> config_pb2.Bootstrap:
        effective = config_pb2.Bootstrap()
        effective.CopyFrom(self.config)
        effective.node.service = self.bootstrap.node.service
        effective.node.instance = self.bootstrap.node.instance
        effective.telemetry.redis_url = redact_url(effective.telemetry.redis_url)  # a reference stays as written
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
        await self.jwks.close()
        if self._admin is not None:
            await self._admin.stop(0)
        await self.observer.stop()
        await self._transports.close()
