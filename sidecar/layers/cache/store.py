"""A sans-IO LRU store of responses bounded by entry count and bytes, with TTL and stale windows.

Every method takes `now` (seconds, any monotonic clock), so the store is tested with a fake clock.
Memory is accounted by payload: message bytes + metadata keys/values + key + ENTRY_OVERHEAD.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sidecar.core.call import Metadata

ENTRY_OVERHEAD = 256  # rough bytes of Python objects per entry, so tiny entries still count


class Freshness(enum.Enum):
    FRESH = "fresh"  # before expiry: serve
    REVALIDATE = "revalidate"  # within stale-while-revalidate: serve and refresh in the background
    STALE = "stale"  # within stale-if-error only: serve only if the upstream fails


@dataclass(slots=True)
class Entry:
    key: str
    method: str
    headers: Metadata
    message: bytes
    trailers: Metadata
    stored: float  # when it was stored
    expires: float  # end of freshness
    revalidate_until: float  # end of the stale-while-revalidate window
    usable_until: float  # end of the last stale window; dropped after it
    size: int = 0

    def freshness(self, now: float) -> Freshness | None:
        if now < self.expires:
            return Freshness.FRESH
        if now < self.revalidate_until:
            return Freshness.REVALIDATE
        if now < self.usable_until:
            return Freshness.STALE
        return None


def metadata_size(metadata: Metadata) -> int:
    return sum(len(k) + len(v) for k, v in metadata)


def make_entry(
    key: str,
    method: str,
    headers: Metadata,
    message: bytes,
    trailers: Metadata,
    now: float,
    ttl: float,
    stale_while_revalidate: float = 0.0,
    stale_if_error: float = 0.0,
) -> Entry:
    expires = now + ttl
    return Entry(
        key=key,
        method=method,
        headers=headers,
        message=message,
        trailers=trailers,
        stored=now,
        expires=expires,
        revalidate_until=expires + stale_while_revalidate,
        usable_until=expires + max(stale_while_revalidate, stale_if_error),
        size=len(key) + len(message) + metadata_size(headers) + metadata_size(trailers) + ENTRY_OVERHEAD,
    )


@dataclass(slots=True)
class Usage:
    """Per-method memory and removal counters kept by the store."""

    entries: int = 0
    bytes: int = 0
    evictions: int = 0
    expirations: int = 0
    purged: int = 0


class Removal(enum.Enum):
    EVICTED = "evicted"
    EXPIRED = "expired"
    PURGED = "purged"
    REPLACED = "replaced"


@dataclass
class Store:
    """LRU over `OrderedDict` (oldest first); `get` marks an entry as recently used."""

    max_entries: int
    max_bytes: int
    max_entry_bytes: int
    bytes: int = 0
    usage: dict[str, Usage] = field(default_factory=dict)
    _entries: OrderedDict[str, Entry] = field(default_factory=OrderedDict)
    _by_method: dict[str, set[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, now: float) -> tuple[Entry, Freshness] | None:
        """The entry for `key` and how fresh it is, or None (an entry past all windows is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        freshness = entry.freshness(now)
        if freshness is None:
            self._remove(entry, Removal.EXPIRED)
            return None
        self._entries.move_to_end(key)
        return entry, freshness

    def put(self, entry: Entry, now: float) -> bool:
        """Store `entry` (replacing one with the same key), evicting to stay within bounds.

        Steps: 1. refuse entries above max_entry_bytes; 2. drop the old entry for the key;
        3. drop expired entries from the LRU end while they are there; 4. evict LRU entries
        until the new one fits both bounds; 5. insert as most recently used.
        """
        if entry.size > self.max_entry_bytes or entry.size > self.max_bytes:
            return False
        old = self._entries.get(entry.key)
        if old is not None:
            self._remove(old, Removal.REPLACED)
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest.usable_until > now:
                break
            self._remove(oldest, Removal.EXPIRED)
        while self._entries and (len(self._entries) >= self.max_entries or self.bytes + entry.size > self.max_bytes):
            self._remove(next(iter(self._entries.values())), Removal.EVICTED)
        self._entries[entry.key] = entry
        self._by_method.setdefault(entry.method, set()).add(entry.key)
        usage = self.usage.get(entry.method)
        if usage is None:
            usage = self.usage[entry.method] = Usage()
        usage.entries += 1
        usage.bytes += entry.size
        self.bytes += entry.size
        return True

    def _remove(self, entry: Entry, why: Removal) -> None:
        del self._entries[entry.key]
        keys = self._by_method[entry.method]
        keys.discard(entry.key)
        if not keys:
            del self._by_method[entry.method]
        self.bytes -= entry.size
        usage = self.usage[entry.method]
        usage.entries -= 1
        usage.bytes -= entry.size
        if why is Removal.EVICTED:
            usage.evictions += 1
        elif why is Removal.EXPIRED:
            usage.expirations += 1
        elif why is Removal.PURGED:
            usage.purged += 1

    def methods(self) -> list[str]:
        """Methods with at least one entry."""
        return list(self._by_method)

    def purge_method(self, method: str) -> int:
        keys = self._by_method.get(method, set())
        entries = [self._entries[k] for k in list(keys)]
        for entry in entries:
            self._remove(entry, Removal.PURGED)
        return len(entries)

    def purge_where(self, predicate: Callable[[Entry], bool]) -> int:
        doomed = [e for e in self._entries.values() if predicate(e)]
        for entry in doomed:
            self._remove(entry, Removal.PURGED)
        return len(doomed)

    def purge_prefix(self, prefix: str) -> int:
        return self.purge_where(lambda e: e.key.startswith(prefix))

    def clear(self) -> int:
        return self.purge_where(lambda e: True)

    def resize(self, max_entries: int, max_bytes: int, max_entry_bytes: int) -> None:
        """New bounds; evicts LRU entries until the store fits them."""
        self.max_entries, self.max_bytes, self.max_entry_bytes = max_entries, max_bytes, max_entry_bytes
        while self._entries and (len(self._entries) > max_entries or self.bytes > max_bytes):
            self._remove(next(iter(self._entries.values())), Removal.EVICTED)
