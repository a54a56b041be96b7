"""The narrow views the admin servicers read (sidecar/admin/views.py), built from a running sidecar."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

from apex.mesh.v1 import config_pb2, telemetry_pb2

from sidecar.admin.views import AdminViews, ControlStatusView
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.model import Bootstrap, Policy
from sidecar.runtime.observe import Observer
from sidecar.runtime.security_watch import token_counters
from sidecar.runtime.stack import State
from sidecar.security.status import JwksStatus, OAuth2Status, SecurityStatus


class _Kinds(Protocol):
    def snapshot(self) -> Mapping[str, str]: ...


class _HasSecurityStatus(Protocol):
    def status(self) -> SecurityStatus: ...


class _HasStatus(Protocol):
    @property
    def status(self) -> ControlStatusView: ...


class Sidecar(Protocol):
    """What the views read of a running sidecar (runtime/sidecar.Sidecar satisfies it)."""

    @property
    def source(self) -> str: ...
    @property
    def kinds(self) -> _Kinds | None: ...
    @property
    def state(self) -> State: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def bootstrap(self) -> Bootstrap: ...
    @property
    def control(self) -> _HasStatus | None: ...
    @property
    def observer(self) -> Observer: ...
    @property
    def workload(self) -> _HasSecurityStatus | None: ...
    def bound_addresses(self) -> dict[str, str]: ...
    def effective_config(self) -> config_pb2.Bootstrap: ...


class _Config:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    def source(self) -> str:
        return self._sidecar.source

    def bound_addresses(self) -> dict[str, str]:
        return self._sidecar.bound_addresses()

    def effective_config(self) -> config_pb2.Bootstrap:
        return self._sidecar.effective_config()

    def method_kinds(self) -> Mapping[str, str]:
        kinds = self._sidecar.kinds
        return kinds.snapshot() if kinds is not None else {}

    def resolved_endpoints(self) -> Mapping[str, Sequence[str]]:
        return {name: [r.address for r in eps.current] for name, eps in self._sidecar.state.endpoints.items()}

    def route_stacks(self) -> Mapping[tuple[str, str], Sequence[str]]:
        return self._sidecar.state.route_stacks

    def cluster_stacks(self) -> Mapping[str, Sequence[str]]:
        return self._sidecar.state.cluster_stacks


class _Clusters:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    def policy_version(self) -> str:
        return self._sidecar.policy.version

    def clusters(self) -> Sequence[ClusterRuntime]:
        state = self._sidecar.state
        out = []
        for name, runtime in list(state.clusters.items()):
            endpoints = state.endpoints.get(name)
            if endpoints is not None:
                runtime.sync(endpoints.current, runtime.clock())
            out.append(runtime)
        return out


class _Control:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    def policy_version(self) -> str:
        return self._sidecar.policy.version

    def control_plane(self) -> tuple[str, str] | None:
        settings = self._sidecar.bootstrap.control_plane
        return None if settings is None else (str(settings.address), settings.last_good_file)

    def status(self) -> ControlStatusView | None:
        control = self._sidecar.control
        return None if control is None else control.status


class _Telemetry:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    def stats(self) -> telemetry_pb2.TelemetryStats:
        return self._sidecar.observer.stats()


class _Security:
    def __init__(self, sidecar: Sidecar) -> None:
        self._sidecar = sidecar

    def status(self) -> SecurityStatus | None:
        """The workload's status plus the JWKS caches and OAuth2 token sources; None with none of them."""
        workload = self._sidecar.workload
        jwks, keys, oauth2 = token_counters(self._sidecar.state)
        if workload is None and not jwks and not oauth2:
            return None
        status = SecurityStatus("", None) if workload is None else workload.status()
        return dataclasses.replace(
            status,
            jwks=tuple(JwksStatus(name, keys.get(name, 0), jwks[name]) for name in sorted(jwks)),
            oauth2=tuple(
                OAuth2Status(listener, route, dict(t.counts), t.expires_at)
                for (listener, route), t in sorted(oauth2.items())
            ),
        )


def of(sidecar: Sidecar) -> AdminViews:
    """The admin views of `sidecar` (they read it live: swaps and reconnects show at once)."""
    return AdminViews(
        config=_Config(sidecar),
        counters=sidecar.state.telemetry,
        clusters=_Clusters(sidecar),
        cache=sidecar.state.cache,
        control=_Control(sidecar),
        telemetry=_Telemetry(sidecar),
        security=_Security(sidecar),
    )
