"""Compose a route's policy layers (rate limit, fault, timeout, retry, split) when configured.

Order, outermost first: rate limit (cheapest rejection) → fault (its delay does not eat the
route timeout, as in Envoy) → route timeout → retry (each attempt re-splits) → split → cluster.
Counters, retry budgets and token buckets live in RouteStates so they survive policy swaps
(a budget or bucket is kept while its config is unchanged).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sidecar.core.service import Layer, Service
from sidecar.layers import fault, ratelimit, split, timeout
from sidecar.layers.decisions import RouteDecisions
from sidecar.layers.retry import layer as retry
from sidecar.layers.retry.budget import Budget
from sidecar.policy.model import Route
from sidecar.policy.route_model import RateLimit, RetryBudget
from sidecar.runtime.cluster import ClusterService

Key = tuple[str, str]  # (listener, route)


def healthy(cluster: ClusterService) -> bool:
    """Whether a cluster can take calls: an endpoint neither ejected nor failing health checks."""
    return cluster.healthy()


@dataclass
class RouteStates:
    decisions: dict[Key, RouteDecisions] = field(default_factory=dict)
    budgets: dict[Key, tuple[RetryBudget, Budget]] = field(default_factory=dict)
    limiters: dict[Key, tuple[RateLimit, ratelimit.Limiter]] = field(default_factory=dict)

    def counters(self, key: Key) -> RouteDecisions:
        current = self.decisions.get(key)
        if current is None:
            current = self.decisions[key] = RouteDecisions(*key)
        return current

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

    def retain(self, keys: set[Key]) -> None:
        """Forget budgets and buckets of routes that no longer exist (counters stay for the admin)."""
        for table in (self.budgets, self.limiters):
            for key in set(table) - keys:
                del table[key]


def rng_for(seed: int | None, key: Key) -> random.Random:
    """The route's own RNG: reproducible from the policy seed, else seeded by the OS."""
    return random.Random(f"{seed}/{key[0]}/{key[1]}") if seed is not None else random.Random()


def layers(route: Route, key: Key, states: RouteStates, rng: random.Random) -> list[Layer]:
    """The policy layers of `route`, outermost first; empty when it has no route policy."""
    policy = route.policy
    counters = states.counters(key)
    result: list[Layer] = []
    if policy.rate_limit is not None:
        result.append(ratelimit.layer(states.limiter(key, policy.rate_limit), route.name, counters))
    if policy.fault is not None:
        result.append(fault.layer(policy.fault, route.name, rng, counters))
    if policy.timeout is not None:
        result.append(timeout.route_timeout(policy.timeout, counters))
    if policy.retry is not None:
        budget = states.budget(key, policy.retry.budget)
        result.append(retry.layer(retry.Retrier(policy.retry, budget, counters, rng)))
    return result


def target(
    route: Route, key: Key, clusters: Mapping[str, ClusterService], states: RouteStates, rng: random.Random
) -> Service:
    """The innermost service of `route`: its cluster, or a split over several."""
    if route.policy.split is None:
        return clusters[route.cluster]
    is_healthy: Callable[[str], bool] = lambda name: healthy(clusters[name])  # noqa: E731
    return split.service(route.policy.split, clusters, is_healthy, rng, states.counters(key))
