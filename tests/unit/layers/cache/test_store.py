"""The sans-IO cache store: TTL, stale windows, LRU by count and by bytes, purges (fake clock)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.layers.cache.store import ENTRY_OVERHEAD, Freshness, Store, make_entry


def entry(key: str, now: float = 0.0, ttl: float = 10.0, size: int = 10, method: str = "/s.S/M", **windows: float):
    return make_entry(key, method, (), b"x" * size, (), now, ttl, **windows)


def store(max_entries: int = 100, max_bytes: int = 1 << 20, max_entry_bytes: int = 1 << 20) -> Store:
    return Store(max_entries, max_bytes, max_entry_bytes)


def test_fresh_until_ttl_then_expired_and_dropped() -> None:
    s = store()
    assert s.put(entry("k", now=100.0, ttl=10.0), now=100.0)
    found = s.get("k", 109.999)
    assert found is not None and found[1] is Freshness.FRESH
    assert s.get("k", 110.0) is None
    assert len(s) == 0 and s.bytes == 0
    assert s.usage["/s.S/M"].expirations == 1


def test_stale_windows_follow_expiry() -> None:
    s = store()
    s.put(entry("k", now=0.0, ttl=10.0, stale_while_revalidate=5.0, stale_if_error=20.0), now=0.0)
    states = {t: s.get("k", t) for t in (9.0, 12.0, 16.0, 29.0)}
    assert [v[1] if v else None for v in states.values()] == [
        Freshness.FRESH,
        Freshness.REVALIDATE,
        Freshness.STALE,
        Freshness.STALE,
    ]
    assert s.get("k", 30.0) is None


def test_lru_eviction_by_count_keeps_recently_used() -> None:
    s = store(max_entries=2)
    s.put(entry("a"), 0.0)
    s.put(entry("b"), 0.0)
    assert s.get("a", 1.0) is not None  # a is now the most recently used
    s.put(entry("c"), 1.0)
    assert s.get("b", 1.0) is None
    assert s.get("a", 1.0) is not None and s.get("c", 1.0) is not None
    assert s.usage["/s.S/M"].evictions == 1


def test_lru_eviction_by_bytes() -> None:
    one = entry("a", size=1000).size
    s = store(max_bytes=2 * one + 10)
    s.put(entry("a", size=1000), 0.0)
    s.put(entry("b", size=1000), 0.0)
    s.put(entry("c", size=1000), 0.0)
    assert s.get("a", 0.0) is None
    assert len(s) == 2 and s.bytes == 2 * one
    assert s.bytes <= s.max_bytes


def test_size_accounts_payload_metadata_key_and_overhead() -> None:
    e = make_entry("key", "/s.S/M", (("h", "vv"),), b"12345", (("t", "w"),), 0.0, 1.0)
    assert e.size == len("key") + 5 + 3 + 2 + ENTRY_OVERHEAD


def test_entry_above_max_entry_bytes_is_refused_without_evicting() -> None:
    s = store(max_entry_bytes=500)
    s.put(entry("a", size=10), 0.0)
    assert not s.put(entry("big", size=1000), 0.0)
    assert s.get("a", 0.0) is not None and len(s) == 1


def test_replacing_a_key_keeps_accounting_exact() -> None:
    s = store()
    s.put(entry("a", size=10), 0.0)
    s.put(entry("a", size=50), 0.0)
    assert len(s) == 1 and s.bytes == entry("a", size=50).size
    assert s.usage["/s.S/M"].entries == 1


def test_expired_entries_leave_first_when_space_is_needed() -> None:
    s = store(max_entries=2)
    s.put(entry("old", now=0.0, ttl=1.0), 0.0)
    s.put(entry("live", now=0.0, ttl=100.0), 0.0)
    s.put(entry("new", now=5.0, ttl=100.0), 5.0)
    assert s.usage["/s.S/M"].expirations == 1 and s.usage["/s.S/M"].evictions == 0
    assert s.get("live", 5.0) is not None


def test_purge_by_method_prefix_and_all() -> None:
    s = store()
    s.put(entry("/s.S/A|c||1", method="/s.S/A"), 0.0)
    s.put(entry("/s.S/A|c||2", method="/s.S/A"), 0.0)
    s.put(entry("/s.S/B|c|x-tenant=a|1", method="/s.S/B"), 0.0)
    s.put(entry("/s.S/B|c|x-tenant=b|1", method="/s.S/B"), 0.0)
    assert s.purge_prefix("/s.S/B|c|x-tenant=a|") == 1
    assert s.purge_method("/s.S/A") == 2
    assert s.methods() == ["/s.S/B"]
    assert s.clear() == 1
    assert len(s) == 0 and s.bytes == 0 and s.usage["/s.S/A"].purged == 2


def test_resize_evicts_down_to_the_new_bounds() -> None:
    s = store()
    for i in range(10):
        s.put(entry(str(i)), 0.0)
    s.resize(3, 1 << 20, 1 << 20)
    assert len(s) == 3 and s.get("9", 0.0) is not None and s.get("0", 0.0) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3000), st.floats(0, 5), st.booleans()),
        max_size=60,
    ),
    st.integers(1, 5),
    st.integers(300, 8000),
)
def test_bounds_always_hold_and_accounting_matches(ops, max_entries, max_bytes) -> None:  # type: ignore[no-untyped-def]
    s = store(max_entries=max_entries, max_bytes=max_bytes, max_entry_bytes=max_bytes)
    now = 0.0
    for key, size, step, read in ops:
        now += step
        if read:
            s.get(key, now)
        else:
            s.put(entry(key, now=now, ttl=3.0, size=size, method=f"/s.S/{key}"), now)
        assert len(s) <= max_entries
        assert s.bytes <= max_bytes
        assert s.bytes == sum(u.bytes for u in s.usage.values())
        assert len(s) == sum(u.entries for u in s.usage.values())
