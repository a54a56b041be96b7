"""Canary selection (pure): which of a service's instances get a version rolled out to a percentage.

Each instance gets a stable rank from a hash of (service, version, instance id); the first
ceil(n * percent / 100) instances by rank get the new version. A different version reshuffles
the ranks, so successive canaries do not always land on the same instances.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable


def rank(service: str, version: int, instance: str) -> bytes:
    return hashlib.sha256(f"{service}\x00{version}\x00{instance}".encode()).digest()


def canary_count(total: int, percent: float) -> int:
    """How many of `total` instances a `percent` rollout covers (at least one when percent > 0)."""
    if percent <= 0 or total <= 0:
        return 0
    if percent >= 100:
        return total
    return min(total, math.ceil(total * percent / 100 - 1e-9))


def select(service: str, version: int, instances: Iterable[str], percent: float) -> frozenset[str]:
    """The instances that get `version` when it is rolled out to `percent` of them."""
    ordered = sorted(set(instances), key=lambda i: rank(service, version, i))
    return frozenset(ordered[: canary_count(len(ordered), percent)])


def target(
    service: str, latest: int, latest_percent: float, stable: int, instance: str, instances: Iterable[str]
) -> int:
    """The version `instance` should run: the latest if it is fully rolled out or `instance` is in
    its canary, else the stable version (0 = none stored yet)."""
    if latest_percent >= 100 or latest == stable:
        return latest
    members = set(instances) | {instance}
    return latest if instance in select(service, latest, members, latest_percent) else stable
