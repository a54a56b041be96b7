"""The cache's runtime state, kept across policy swaps: store, flights, rules and counters."""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.core.call import Metadata, Status
from sidecar.core.service import BufferedResponse
from sidecar.layers.cache.singleflight import Flights
from sidecar.layers.cache.store import Store, Usage
from sidecar.policy.cache_model import CacheBounds, CacheRule, rule_for


@dataclass(slots=True)
class Fetched:
    """An upstream answer, buffered in full (what a flight hands to the calls that joined it)."""

    headers: Metadata
    messages: list[bytes]
    status: Status

    def response(self) -> BufferedResponse:
        return BufferedResponse(self.status, self.messages, self.headers)


@dataclass(slots=True)
class MethodCounters:
    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    stale_while_revalidate: int = 0
    stale_if_error: int = 0
    bypasses: int = 0
    stores: int = 0
    not_stored: int = 0
    revalidations: int = 0


@dataclass(frozen=True, slots=True)
class MethodSnapshot:
    method: str
    rule: str
    enforced: bool
    hits: int
    misses: int
    coalesced: int
    stale_while_revalidate: int
    stale_if_error: int
    bypasses: int
    stores: int
    not_stored: int
    revalidations: int
    evictions: int
    expirations: int
    purged: int
    entries: int
    bytes: int


@dataclass(frozen=True, slots=True)
class CacheSnapshot:
    """A plain copy of the cache's counters, for the admin API and telemetry."""

    methods: tuple[MethodSnapshot, ...]
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int

    def method(self, name: str) -> MethodSnapshot | None:
        return next((m for m in self.methods if m.method == name), None)


class CacheState:
    """One per sidecar: every route's cache layer shares it; it survives policy swaps."""

    def __init__(self, bounds: CacheBounds | None = None) -> None:
        bounds = bounds or CacheBounds()
        self.store = Store(bounds.max_entries, bounds.max_bytes, bounds.max_entry_bytes)
        self.flights: Flights[Fetched] = Flights()
        self.counters: dict[tuple[str, str], MethodCounters] = {}  # (method, cluster) -> counters
        self.rules: tuple[CacheRule, ...] = ()
        self.rule_set: frozenset[CacheRule] = frozenset()

    def configure(self, bounds: CacheBounds) -> None:
        self.store.resize(bounds.max_entries, bounds.max_bytes, bounds.max_entry_bytes)

    def update_rules(self, rules: tuple[CacheRule, ...]) -> int:
        """Install a policy's rules; drop the entries of every method whose rules changed."""
        purged = 0
        for method in self.store.methods():
            before = [r for r in self.rules if r.matches(method)]
            after = [r for r in rules if r.matches(method)]
            if before != after:
                purged += self.store.purge_method(method)
        self.rules = rules
        self.rule_set = frozenset(rules)
        return purged

    def counters_for(self, method: str, cluster: str = "") -> MethodCounters:
        key = (method, cluster)
        counters = self.counters.get(key)
        if counters is None:
            counters = self.counters[key] = MethodCounters()
        return counters

    def method_counters(self, method: str) -> MethodCounters:
        """A method's counters summed over the clusters it was called on."""
        total = MethodCounters()
        for (name, _), c in self.counters.items():
            if name == method:
                for f in MethodCounters.__slots__:
                    setattr(total, f, getattr(total, f) + getattr(c, f))
        return total

    def cluster_totals(self) -> dict[str, dict[str, int]]:
        """Non-zero counters per cluster, named `cache_<counter>` (windows, /metrics)."""
        out: dict[str, dict[str, int]] = {}
        for (_, cluster), c in self.counters.items():
            merged = out.setdefault(cluster, {})
            for f in MethodCounters.__slots__:
                if n := getattr(c, f):
                    merged[f"cache_{f}"] = merged.get(f"cache_{f}", 0) + n
        return out

    def purge(self, *, method: str = "", key_prefix: str = "") -> int:
        """Drop entries by method, by key prefix, or (neither given) all of them."""
        if method:
            return self.store.purge_method(method)
        if key_prefix:
            return self.store.purge_prefix(key_prefix)
        return self.store.clear()

    def snapshot(self) -> CacheSnapshot:
        methods = []
        for name in sorted({method for method, _ in self.counters} | set(self.store.usage)):
            c = self.method_counters(name)
            u = self.store.usage.get(name) or Usage()
            rule = rule_for(self.rules, name)
            methods.append(
                MethodSnapshot(
                    method=name,
                    rule=rule.name if rule else "",
                    enforced=rule.enforced if rule else False,
                    hits=c.hits,
                    misses=c.misses,
                    coalesced=c.coalesced,
                    stale_while_revalidate=c.stale_while_revalidate,
                    stale_if_error=c.stale_if_error,
                    bypasses=c.bypasses,
                    stores=c.stores,
                    not_stored=c.not_stored,
                    revalidations=c.revalidations,
                    evictions=u.evictions,
                    expirations=u.expirations,
                    purged=u.purged,
                    entries=u.entries,
                    bytes=u.bytes,
                )
            )
        store = self.store
        return CacheSnapshot(
            methods=tuple(methods),
            entries=len(store),
            bytes=store.bytes,
            max_entries=store.max_entries,
            max_bytes=store.max_bytes,
        )
