"""Traffic split: choose a route's cluster by weight, header override or fallback (sans-IO choice)."""

from __future__ import annotations

import bisect
import enum
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sidecar.core.call import CallDescriptor
from sidecar.core.service import Request, Response, Service
from sidecar.policy.route_model import ClusterOverride, Split
from sidecar.telemetry.registry import RouteDecisions


class Reason(enum.Enum):
    WEIGHT = "weight"
    OVERRIDE = "override"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Choice:
    cluster: str
    reason: Reason


class Weights:
    """Cumulative weights of a split, for an O(log n) weighted pick with one random number."""

    __slots__ = ("_cumulative", "_names", "total")

    def __init__(self, clusters: Sequence[tuple[str, int]]) -> None:
        live = [(name, w) for name, w in clusters if w > 0]
        if not live:
            raise ValueError("a split needs at least one positive weight")
        self._names = [name for name, _ in live]
        self._cumulative = list(itertools.accumulate(w for _, w in live))
        self.total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        """Cluster i is chosen with probability weight_i / total."""
        point = rng.random() * self.total  # in [0, total)
        return self._names[bisect.bisect_right(self._cumulative, point)]


def override(overrides: Sequence[ClusterOverride], call: CallDescriptor) -> str | None:
    """The cluster of the first override whose header matches the call, or None."""
    for rule in overrides:
        value = call.header(rule.header)
        if value is None:
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if rule.value is None or text == rule.value:
            return rule.cluster
    return None


def choose(
    split: Split, weights: Weights, call: CallDescriptor, rng: random.Random, healthy: Callable[[str], bool]
) -> Choice:
    """Where a call goes.

    1. A matching header override wins (even over health: the caller asked for that cluster).
    2. Otherwise pick by weight.
    3. When the picked cluster has no healthy endpoint and a healthy fallback exists, use it.
    """
    forced = override(split.overrides, call)
    if forced is not None:
        return Choice(forced, Reason.OVERRIDE)
    picked = weights.pick(rng)
    if split.fallback and split.fallback != picked and not healthy(picked) and healthy(split.fallback):
        return Choice(split.fallback, Reason.FALLBACK)
    return Choice(picked, Reason.WEIGHT)


NAME = "split"  # the innermost entry of a split route's stack


def service(
    split: Split,
    clusters: Mapping[str, Service],
    healthy: Callable[[str], bool],
    rng: random.Random,
    counters: RouteDecisions,
) -> Service:
    """The innermost service of a split route: dispatch each call (or attempt) to its cluster."""
    weights = Weights(split.clusters)
    targets = {name: clusters[name] for name in split.names}

    async def split_call(request: Request) -> Response:
        choice = choose(split, weights, request.call, rng, healthy)
        counters.split[choice.cluster] += 1
        if choice.reason is Reason.OVERRIDE:
            counters.header_overrides += 1
        elif choice.reason is Reason.FALLBACK:
            counters.fallbacks += 1
        return await targets[choice.cluster](request)

    return split_call
