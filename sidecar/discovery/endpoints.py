"""A cluster's current endpoint addresses, swapped whole when discovery learns a new set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sidecar.policy.address import Address
from sidecar.policy.model import Cluster


@dataclass(frozen=True, slots=True)
class Resolved:
    """One connectable endpoint: an IP address and port, with the weight of its config entry."""

    address: str  # "ip:port" as the connector dials it
    weight: int
    origin: str  # the configured address it came from ("catalog:50051")


class EndpointSet:
    """The endpoints a cluster routes to now. IP endpoints are known at once; names wait for DNS."""

    __slots__ = ("_by_name", "cluster", "current", "discovered", "next_refresh")

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._by_name: dict[Address, tuple[str, ...]] = {}
        self.current: tuple[Resolved, ...] = ()
        self.next_refresh = 0.0  # loop time of the next DNS lookup
        self.discovered: tuple[str, ...] = ()  # "host:port" of registry instances (control plane)
        for ep in cluster.endpoints:
            if ep.address.is_ip:
                self._by_name[ep.address] = (str(ep.address),)
        self._rebuild()

    @property
    def names(self) -> tuple[Address, ...]:
        """The configured addresses that need DNS."""
        return tuple(ep.address for ep in self.cluster.endpoints if not ep.address.is_ip)

    def update(self, results: Mapping[Address, Iterable[str]]) -> bool:
        """Record fresh DNS answers (name → "ip:port" list); return True when the set changed."""
        before = self.current
        for name, addresses in results.items():
            self._by_name[name] = tuple(sorted(set(addresses)))
        self._rebuild()
        return before != self.current

    def set_discovered(self, addresses: Iterable[str]) -> bool:
        """Replace the endpoints learned from the registry; return True when the set changed."""
        before = self.current
        self.discovered = tuple(sorted(set(addresses)))
        self._rebuild()
        return before != self.current

    def _rebuild(self) -> None:
        static = tuple(
            Resolved(address=addr, weight=ep.weight, origin=str(ep.address))
            for ep in self.cluster.endpoints
            for addr in self._by_name.get(ep.address, ())
        )
        known = {r.address for r in static}
        discovered = tuple(
            Resolved(address=addr, weight=1, origin=f"discover:{self.cluster.discover}")
            for addr in self.discovered
            if addr not in known
        )
        self.current = static + discovered
