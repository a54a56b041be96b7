"""Every stack of the sidecar, built here from one ordered list of named layers each.

Read top to bottom, outermost first; a layer is in the list only when its policy is configured:

    route:    trace → metrics → deadline → authn → authz → cache → rate limit → fault → timeout → retry
              → oauth2 → split | cluster
    cluster:  adaptive concurrency → admission (caps) → balancer (over the endpoints outlier detection and health allow)
              → endpoint metrics → connector

Route layers decide the route's order: authn (JWT) and authz (policies) come before the cache, so
nothing is answered to a caller the policies refuse (the cache keys on the caller's identity too);
rate limit is the cheapest rejection after them; a fault's delay does not eat the route timeout
(as in Envoy); each retry attempt re-splits. The cache sits outside rate limits, faults and
retries: a hit costs the upstream nothing, and stale-if-error sees the failures those layers
produce. What must survive a policy swap (endpoints, cluster runtimes, retry budgets, token
buckets, cache entries, counters, JWKS keys) is kept in `State`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.core.service import Connector, Service
from sidecar.core.transport import H2Settings
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers import fault, metrics, named, ratelimit, split, timeout
from sidecar.layers import trace as tracing
from sidecar.layers.authn import layer as authn
from sidecar.layers.authn.keys import KeyCaches
from sidecar.layers.authz import layer as authz
from sidecar.layers.cache import layer as cache
from sidecar.layers.cache.state import CacheState
from sidecar.layers.cluster.service import ClusterService
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.layers.limits.adaptive import AdaptiveLayer
from sidecar.layers.limits.admission import AdmissionLayer
from sidecar.layers.oauth2.layer import OAuth2Layer
from sidecar.layers.oauth2.source import TokenSource
from sidecar.layers.retry import layer as retry
from sidecar.layers.retry.budget import Budget
from sidecar.layers.routing import Router
from sidecar.policy.model import Cluster, Direction, Listener, Policy, Route
from sidecar.policy.oauth2_model import OAuth2
from sidecar.policy.route_model import RateLimit, RetryBudget
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.tracing import Tracing

Key = tuple[str, str]  # (listener, route)
CONNECTOR = "connector"  # the innermost entry of every cluster stack


def _discovery(cluster: Cluster) -> tuple[object, ...]:
    """The part of a cluster's config that decides its endpoint addresses."""
    return (cluster.endpoints, cluster.dns_refresh, cluster.authority, cluster.discover)


@dataclass
class RouteStates:
    """Retry budgets and token buckets of each route, kept while their config is unchanged."""

    budgets: dict[Key, tuple[RetryBudget, Budget]] = field(default_factory=dict)
    limiters: dict[Key, tuple[RateLimit, ratelimit.Limiter]] = field(default_factory=dict)
    tokens: dict[Key, tuple[OAuth2, TokenSource]] = field(default_factory=dict)  # OAuth2 access tokens

    def budget(self, key: Key, policy: RetryBudget) -> Budget:
        kept = self.budgets.get(key)
        if kept is None or kept[0] != policy:
            kept = self.budgets[key] = (policy, Budget(policy))
        return kept[1]

    def limiter(self, key: Key, policy: RateLimit) -> ratelimit.Limiter:
        kept = self.limiters.get(key)
        if kept is None or kept[0] != policy:
            kept = self.limiters[key] = (policy, ratelimit.Limiter(policy))
        return kept[1]

    def token_source(self, key: Key, policy: OAuth2) -> TokenSource:
        kept = self.tokens.get(key)
        if kept is None or kept[0] != policy:
            kept = self.tokens[key] = (policy, TokenSource(policy))
        return kept[1]

    def retain(self, keys: set[Key]) -> None:
        """Forget budgets and buckets of routes that no longer exist (counters stay for the admin)."""
        for table in (self.budgets, self.limiters, self.tokens):
            for key in set(table) - keys:
                del table[key]


@dataclass
class State:
    """What survives a policy swap when its config is unchanged, and the stacks last built."""

    endpoints: dict[str, EndpointSet] = field(default_factory=dict)
    cache: CacheState = field(default_factory=CacheState)  # entries of unchanged cache rules survive
    jwks: KeyCaches = field(default_factory=KeyCaches)  # JWT providers' keys, kept while their source is unchanged
    routes: RouteStates = field(default_factory=RouteStates)
    clusters: dict[str, ClusterRuntime] = field(default_factory=dict)
    discovered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cluster -> registry addresses
    # The one counter store (docs/observability.md): every layer records into it; admin, /metrics
    # and telemetry windows read it.
    telemetry: Registry = field(default_factory=lambda: Registry(lambda: 0.0))
    measure: bool = False  # latency and bytes too (/metrics or telemetry configured); calls are always counted
    tracer: Tracing | None = None  # set when tracing is enabled; None: no trace layer in the stack
    # The stacks in force, by layer name in call order (admin config dump).
    route_stacks: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    cluster_stacks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def endpoint_set(self, cluster: Cluster) -> EndpointSet:
        current = self.endpoints.get(cluster.name)
        if current is None or _discovery(current.cluster) != _discovery(cluster):
            current = EndpointSet(cluster)
            if cluster.discover:
                current.set_discovered(self.discovered.get(cluster.name, ()))
            self.endpoints[cluster.name] = current
        current.cluster = cluster
        return current

    def cluster_runtime(self, cluster: Cluster) -> ClusterRuntime:
        """The cluster's balancer/caps/ejection/health state, reconfigured in place on a swap."""
        current = self.clusters.get(cluster.name)
        if current is None:
            current = self.clusters[cluster.name] = ClusterRuntime(cluster)
        elif current.cluster != cluster:
            current.configure(cluster)
        return current


def rng_for(seed: int | None, key: Key) -> random.Random:
    """The route's own RNG: reproducible from the policy seed, else seeded by the OS."""
    return random.Random(f"{seed}/{key[0]}/{key[1]}") if seed is not None else random.Random()


@dataclass(frozen=True, slots=True)
class ClusterStack:
    """A cluster's built stack; `balancer` answers whether the cluster can take calls (split fallback)."""

    service: Service
    names: tuple[str, ...]
    balancer: ClusterService


def cluster_stack(
    cluster: Cluster, endpoints: EndpointSet, runtime: ClusterRuntime, connector: Connector, registry: Registry | None
) -> ClusterStack:
    """adaptive concurrency → admission (caps) → balancer over the endpoints outlier detection and health allow →
    endpoint metrics (when measuring) → connector."""
    endpoint: Connector = connector
    below: tuple[str, ...] = (CONNECTOR,)
    if registry is not None:
        endpoint = metrics.EndpointMetrics(cluster.name, connector, registry)
        below = (metrics.EndpointMetrics.name, CONNECTOR)
    balancer = ClusterService(endpoints, endpoint, runtime)
    built = named.build(
        [
            AdaptiveLayer(cluster.name, runtime.adaptive, runtime.clock) if runtime.adaptive is not None else None,
            AdmissionLayer(runtime.admission, runtime.clock) if cluster.limits is not None else None,
        ],
        balancer,
        balancer.name,
    )
    return ClusterStack(built.service, (*built.names[:-1], *balancer.names, *below), balancer)


def route_stack(
    route: Route,
    listener: Listener,
    policy: Policy,
    clusters: Mapping[str, ClusterStack],
    state: State,
) -> named.Stack:
    """trace → metrics → deadline → authn → authz → cache → rate limit → fault → timeout → retry → oauth2
    → split | cluster."""
    key = (listener.name, route.name)
    rng = rng_for(policy.random_seed, key)
    rp = route.policy
    reg = state.telemetry
    decisions = reg.route_decisions(*key)
    cache_rules = cache.rules_for_route(policy.cache, listener.name, route.match)
    inbound = listener.direction is Direction.INBOUND
    series = reg.route(listener.name, route.name, route.cluster)
    jwt_rule = authn.rule_for(policy.jwt, listener.name, inbound, route.name)
    authz_policies = authz.policies_for(policy.authorization, listener.name, inbound, route.name)
    layers: list[named.NamedLayer | None] = [
        tracing.Trace(state.tracer, inbound, route.name, route.cluster, series if state.measure else None)
        if state.tracer is not None
        else None,
        metrics.Metrics(series, detail=state.measure),
        timeout.Deadline(),
        authn.Authn(jwt_rule, policy.jwt, state.jwks, series) if jwt_rule is not None else None,
        authz.Authz(authz_policies, series) if authz_policies else None,
        cache.Cache(state.cache, cache_rules, route.cluster or route.name) if cache_rules else None,
        ratelimit.RateLimiting(state.routes.limiter(key, rp.rate_limit), route.name, decisions)
        if rp.rate_limit is not None
        else None,
        fault.FaultInjection(rp.fault, route.name, rng, decisions) if rp.fault is not None else None,
        timeout.RouteTimeout(rp.timeout, decisions) if rp.timeout is not None else None,
        retry.Retry(retry.Retrier(rp.retry, state.routes.budget(key, rp.retry.budget), decisions, rng))
        if rp.retry is not None
        else None,
        OAuth2Layer(state.routes.token_source(key, rp.oauth2)) if rp.oauth2 is not None else None,
    ]
    if rp.split is None:
        return named.build(layers, clusters[route.cluster].service, f"cluster:{route.cluster}")
    healthy: Callable[[str], bool] = lambda name: clusters[name].balancer.healthy()  # noqa: E731
    services = {name: clusters[name].service for name in rp.split.names}
    return named.build(layers, split.service(rp.split, services, healthy, rng, decisions), split.NAME)


def build(
    policy: Policy, listeners: tuple[Listener, ...], state: State, connectors: Callable[..., Connector]
) -> Mapping[str, Router]:
    """One router per listener for `policy`, reusing `state` where the config is unchanged;
    `connectors(name[, mtls=True][, h2=settings])` is the connector of the transport a cluster names (mTLS
    when it asks, its own h2 settings when it has some)."""
    registry = state.telemetry if state.measure else None

    def connector(cluster: Cluster) -> Connector:
        options: dict[str, Any] = {}
        if cluster.mtls:
            options["mtls"] = True
        if cluster.mtls_server_identity:
            options["server_identity"] = cluster.mtls_server_identity
        if cluster.h2 != H2Settings():
            options["h2"] = cluster.h2
        return connectors(cluster.transport, **options)

    clusters = {
        c.name: cluster_stack(c, state.endpoint_set(c), state.cluster_runtime(c), connector(c), registry)
        for c in policy.clusters
    }
    for name in set(state.endpoints) - set(clusters):
        del state.endpoints[name]
    for name in set(state.clusters) - set(clusters):
        del state.clusters[name]
    state.cache.update_rules(policy.cache)
    state.jwks.update(policy.jwt.providers)
    routers: dict[str, Router] = {}
    route_stacks: dict[Key, tuple[str, ...]] = {}
    for listener in listeners:
        table = policy.route_table(listener.route_table)
        services: dict[str, Service] = {}
        for route in table.routes:
            built = route_stack(route, listener, policy, clusters, state)
            services[route.name] = built.service
            route_stacks[(listener.name, route.name)] = built.names
        routers[listener.name] = Router(table, services)
    state.routes.retain(set(route_stacks))
    state.route_stacks = route_stacks
    state.cluster_stacks = {name: c.names for name, c in clusters.items()}
    return routers
