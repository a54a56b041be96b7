"""What each admin servicer reads: small read-only views, so no servicer needs the whole sidecar.

`runtime/admin_views.py` builds them from a running sidecar; tests can build them from parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from apex.mesh.v1 import config_pb2, telemetry_pb2

from sidecar.layers.cache.state import CacheState
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.security.status import SecurityStatus
from sidecar.telemetry.registry import Registry


class ConfigView(Protocol):
    """Admin.GetConfig: the configuration in force and the stacks built from it."""

    def source(self) -> str: ...
    def bound_addresses(self) -> dict[str, str]: ...
    def effective_config(self) -> config_pb2.Bootstrap: ...
    def method_kinds(self) -> Mapping[str, str]: ...
    def resolved_endpoints(self) -> Mapping[str, Sequence[str]]: ...
    def route_stacks(self) -> Mapping[tuple[str, str], Sequence[str]]: ...
    def cluster_stacks(self) -> Mapping[str, Sequence[str]]: ...


class ClustersView(Protocol):
    """ClusterAdmin: each cluster's runtime, synced with its current endpoints."""

    def policy_version(self) -> str: ...
    def clusters(self) -> Sequence[ClusterRuntime]: ...


class ControlStatusView(Protocol):
    """The control client's counters (sidecar/control/client.ControlStatus)."""

    connected: bool
    connects: int
    applied: int
    rejected: int
    last_nack: str
    credential: str
    address: str


class ControlView(Protocol):
    """SidecarControl: where the control plane is and what the client has done."""

    def policy_version(self) -> str: ...
    def control_plane(self) -> tuple[str, str] | None:
        """(address, last good file) when a control plane is configured."""
        ...

    def status(self) -> ControlStatusView | None: ...


class TelemetryView(Protocol):
    """ObservabilityAdmin: the publisher's and span exporter's counters."""

    def stats(self) -> telemetry_pb2.TelemetryStats: ...


class SecurityView(Protocol):
    """SecurityAdmin: the workload identity and its listeners' peer counters."""

    def status(self) -> SecurityStatus | None:
        """None when the sidecar has no `security` section."""
        ...


class NoSecurity:
    """The SecurityView of a sidecar without a workload identity."""

    def status(self) -> SecurityStatus | None:
        return None


@dataclass(frozen=True, slots=True)
class AdminViews:
    """Everything the admin listener serves, one narrow view per servicer."""

    config: ConfigView
    counters: Registry  # the one counter store: GetStats, RouteAdmin
    clusters: ClustersView
    cache: CacheState
    control: ControlView
    telemetry: TelemetryView
    security: SecurityView = field(default_factory=NoSecurity)
