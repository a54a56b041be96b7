"""Build each listener's router from a policy: route → [layers...] → cluster service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sidecar.core.service import Connector, Service, stack
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers import metrics, stats, timeout
from sidecar.layers import trace as tracing
from sidecar.layers.cache import layer as cache
from sidecar.layers.cache.state import CacheState
from sidecar.layers.routing import Router
from sidecar.policy.model import Cluster, Direction, Listener, Policy
from sidecar.runtime import route_stack
from sidecar.runtime.cluster import ClusterService
from sidecar.runtime.cluster_state import ClusterRuntime
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.tracing import Tracing


def _discovery(cluster: Cluster) -> tuple[object, ...]:
    """The part of a cluster's config that decides its endpoint addresses."""
    return (cluster.endpoints, cluster.dns_refresh, cluster.authority, cluster.discover)


@dataclass
class State:
    """What survives a policy swap when its config is unchanged: endpoints, counters, cache."""

    endpoints: dict[str, EndpointSet] = field(default_factory=dict)
    counters: dict[tuple[str, str], stats.RouteCounters] = field(default_factory=dict)
    cache: CacheState = field(default_factory=CacheState)  # entries of unchanged cache rules survive
    routes: route_stack.RouteStates = field(default_factory=route_stack.RouteStates)
    clusters: dict[str, ClusterRuntime] = field(default_factory=dict)
    discovered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cluster -> registry addresses
    # Observability (docs/observability.md): the registry is also the Sink policy layers report to.
    telemetry: Registry = field(default_factory=lambda: Registry(lambda: 0.0))
    measure: bool = False  # golden-metrics layers in the stack (/metrics or telemetry configured)
    tracer: Tracing | None = None  # set when tracing is enabled; None: no trace layer in the stack

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

    def route_counters(self, listener: str, route: str, cluster: str) -> stats.RouteCounters:
        key = (listener, route)
        current = self.counters.get(key)
        if current is None or current.cluster != cluster:
            current = stats.RouteCounters(listener, route, cluster)
            self.counters[key] = current
        return current


def build(
    policy: Policy, listeners: tuple[Listener, ...], state: State, connectors: Callable[[str], Connector]
) -> Mapping[str, Router]:
    """One router per listener for `policy`, reusing `state` where the config is unchanged;
    `connectors(name)` is the connector of the transport a cluster names."""

    def upstream(cluster: Cluster) -> Connector:
        connector = connectors(cluster.transport)
        return metrics.EndpointMetrics(cluster.name, connector, state.telemetry) if state.measure else connector

    clusters = {
        c.name: ClusterService(state.endpoint_set(c), upstream(c), state.cluster_runtime(c)) for c in policy.clusters
    }
    for name in set(state.endpoints) - set(clusters):
        del state.endpoints[name]
    state.cache.update_rules(policy.cache)
    for name in set(state.clusters) - set(clusters):
        del state.clusters[name]
    routers: dict[str, Router] = {}
    for listener in listeners:
        table = policy.route_table(listener.route_table)
        services: dict[str, Service] = {}
        for route in table.routes:
            key = (listener.name, route.name)
            rng = route_stack.rng_for(policy.random_seed, key)
            layers = [
                stats.count(state.route_counters(listener.name, route.name, route.cluster)),
                timeout.deadline(),
            ]
            # The cache sits outside rate limits, faults and retries: a hit costs the upstream
            # nothing, and stale-if-error sees the failures those layers produce.
            if cache_rules := cache.rules_for_route(policy.cache, listener.name, route.match):
                layers.append(cache.layer(state.cache, cache_rules, route.cluster or route.name))
            layers.extend(route_stack.layers(route, key, state.routes, rng))
            if state.measure:
                layers.insert(0, metrics.measure(state.telemetry.route(listener.name, route.name, route.cluster)))
            if state.tracer is not None:
                inbound = listener.direction is Direction.INBOUND
                layers.insert(0, tracing.trace(state.tracer, inbound, route.name, route.cluster))
            services[route.name] = stack(layers, route_stack.target(route, key, clusters, state.routes, rng))
        routers[listener.name] = Router(table, services)
    state.routes.retain({(lis.name, r.name) for lis in listeners for r in policy.route_table(lis.route_table).routes})
    return routers
