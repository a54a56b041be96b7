"""Frozen dataclasses for the sidecar's bootstrap and policy, as validated from protobuf."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sidecar.core.transport import DEFAULT_TRANSPORT, H2Settings, WireLimits
from sidecar.policy.address import Address
from sidecar.policy.auth_model import AuthzPolicy, RequestAuthentication
from sidecar.policy.cache_model import CacheBounds, CacheRule
from sidecar.policy.cluster_model import (
    AdaptiveConcurrencyPolicy,
    ConcurrencyLimits,
    HealthCheckPolicy,
    LoadBalancerPolicy,
    OutlierPolicy,
)
from sidecar.policy.route_model import RoutePolicy
from sidecar.policy.security_model import AdminAccess, Security
from sidecar.security.peer import MtlsMode


class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class PathKind(enum.Enum):
    ANY = "any"
    METHOD = "method"  # exact "/pkg.Service/Method"
    PREFIX = "prefix"  # path prefix
    SERVICE = "service"  # "pkg.Service"


class HeaderRule(enum.Enum):
    EXACT = "exact"
    PREFIX = "prefix"
    PRESENT = "present"


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    name: str
    rule: HeaderRule
    value: str = ""
    invert: bool = False


@dataclass(frozen=True, slots=True)
class RouteMatch:
    authority: str = ""
    path_kind: PathKind = PathKind.ANY
    path: str = ""
    headers: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    cluster: str  # with a split: its first cluster
    match: RouteMatch = field(default_factory=RouteMatch)
    policy: RoutePolicy = field(default_factory=RoutePolicy)  # split, timeout, retry, rate limit, fault


@dataclass(frozen=True, slots=True)
class RouteTable:
    name: str
    routes: tuple[Route, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: Address
    weight: int = 1


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    endpoints: tuple[Endpoint, ...]
    dns_refresh: float = 5.0
    authority: str = ""
    # issue 3a: cluster resilience (cluster_model.py)
    load_balancer: LoadBalancerPolicy = field(default_factory=LoadBalancerPolicy)
    limits: ConcurrencyLimits | None = None
    outlier: OutlierPolicy | None = None
    health_check: HealthCheckPolicy | None = None
    adaptive: AdaptiveConcurrencyPolicy | None = None  # latency-driven concurrency limit
    discover: str = ""  # service whose registered instances join the static endpoints
    transport: str = DEFAULT_TRANSPORT  # carries calls to the endpoints (sidecar/core/transport.py registry)
    mtls: bool = False  # the endpoints are other sidecars' mTLS listeners (docs/security.md)
    mtls_server_identity: str = ""  # with mtls: the exact SPIFFE ID the upstream must present ("" = any)
    h2: H2Settings = field(default_factory=H2Settings)  # transport h2's connection settings


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    route_tables: tuple[RouteTable, ...]
    clusters: tuple[Cluster, ...]
    cache: tuple[CacheRule, ...] = ()  # response cache rules (issue 4)
    random_seed: int | None = None  # route decisions (split, jitter, faults); None: from the OS
    jwt: RequestAuthentication = field(default_factory=RequestAuthentication)  # JWT providers and rules
    authorization: tuple[AuthzPolicy, ...] = ()  # Istio-style AuthorizationPolicies (docs/security.md)

    def route_table(self, name: str) -> RouteTable:
        return next(t for t in self.route_tables if t.name == name)

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name == name)


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    address: Address
    direction: Direction
    route_table: str
    default_authority: str = ""
    transport: str = DEFAULT_TRANSPORT  # serves the listener (sidecar/core/transport.py registry)
    limits: WireLimits = field(default_factory=WireLimits)  # per connection (docs/limits.md)
    mtls: MtlsMode = MtlsMode.DISABLE  # Istio's PeerAuthentication (docs/security.md)
    allowed_principals: tuple[str, ...] = ()  # SPIFFE ID globs; empty: any of the trust domain
    h2: H2Settings = field(default_factory=H2Settings)  # transport h2's connection settings


@dataclass(frozen=True, slots=True)
class Node:
    service: str
    instance: str
    zone: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    address: Address | None = None  # advertised inbound address (control plane registry)


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """How the sidecar joins a control plane."""

    address: Address
    last_good_file: str
    heartbeat_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class Bootstrap:
    node: Node
    admin: Address | None
    listeners: tuple[Listener, ...]
    policy: Policy
    cache: CacheBounds = field(default_factory=CacheBounds)  # response cache bounds (issue 4)
    control_plane: ControlPlane | None = None
    security: Security | None = None  # workload identity and certificate source (docs/security.md)
    admin_access: AdminAccess = field(default_factory=AdminAccess)  # admin token / mTLS (docs/security.md)
