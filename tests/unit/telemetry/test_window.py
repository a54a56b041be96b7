"""Window rolling with a fake clock: every finished call lands in exactly one window."""

from __future__ import annotations

import random

from apex.mesh.contract import histogram
from apex.mesh.v1 import telemetry_pb2

from sidecar.core.call import Code
from sidecar.telemetry.registry import Priority, Registry
from sidecar.telemetry.window import Identity, Roller

WHO = Identity("svc", "svc-1", "zone-a")


def test_totals_over_windows_equal_the_calls_and_nothing_is_counted_twice() -> None:
    rng = random.Random(11)
    registry = Registry(clock=lambda: 0.0)
    route = registry.route("outbound", "r", "c")
    endpoint = registry.endpoint("c", "10.0.0.1:80")
    roller = Roller(registry, WHO, now=1000.0)
    windows: list[telemetry_pb2.TelemetryWindow] = []
    open_calls = 0
    finished = errors = 0
    for step in range(1, 200):
        for _ in range(rng.randint(0, 5)):
            route.start()
            endpoint.start()
            open_calls += 1
        while open_calls and rng.random() < 0.6:
            code = Code.UNAVAILABLE if rng.random() < 0.2 else Code.OK
            route.finish(code, rng.uniform(0.001, 0.1))
            endpoint.finish(code, 0.001)
            open_calls -= 1
            finished += 1
            errors += code is not Code.OK
        if step % 10 == 0:
            windows.append(roller.roll(now=1000.0 + step))
    windows.append(roller.roll(now=1300.0))
    calls = sum(w.routes[0].stats.calls for w in windows)
    assert calls == finished
    assert sum(w.routes[0].stats.errors for w in windows) == errors
    assert sum(w.routes[0].stats.status_codes.get("UNAVAILABLE", 0) for w in windows) == errors
    assert sum(histogram.decode(w.routes[0].stats.latency).count for w in windows) == finished
    assert sum(w.clusters[0].stats.calls for w in windows) == finished
    assert windows[-1].routes[0].stats.in_flight == open_calls
    assert [w.sequence for w in windows] == list(range(1, len(windows) + 1))
    assert windows[0].window_start.seconds == 1000 and windows[0].window.seconds == 10


def test_in_flight_peak_restarts_each_window() -> None:
    registry = Registry(clock=lambda: 0.0)
    s = registry.route("l", "r", "c")
    roller = Roller(registry, WHO, now=0.0)
    for _ in range(5):
        s.start()
    for _ in range(4):
        s.finish(Code.OK, 0.01)
    first = roller.roll(now=1.0).routes[0].stats
    second = roller.roll(now=2.0).routes[0].stats
    assert (first.in_flight_peak, first.in_flight) == (5, 1)
    assert (second.in_flight_peak, second.in_flight, second.calls) == (1, 1, 0)


def test_policy_counters_states_and_metadata_reach_the_window() -> None:
    registry = Registry(clock=lambda: 42.0)
    registry.policy_version = "v7"
    registry.route("l", "r", "c")
    roller = Roller(registry, WHO, now=0.0)
    registry.unrouted = lambda: 3
    registry.count("retries", 2, route=("l", "r", "c"))
    registry.count("ejections", cluster="c", endpoint="10.0.0.2:80")
    registry.count("breaker_rejections", 4, cluster="c")
    registry.state("breaker", "open", cluster="c")
    registry.state("outlier", "ejected", cluster="c", endpoint="10.0.0.2:80")
    registry.event("endpoint_ejected", Priority.HIGH, "5 consecutive failures", cluster="c", endpoint="10.0.0.2:80")
    w = roller.roll(now=1.0)
    assert (w.service, w.instance, w.zone, w.policy_version, w.unrouted) == ("svc", "svc-1", "zone-a", "v7", 3)
    assert w.routes[0].stats.counters["retries"] == 2
    cluster = w.clusters[0]
    assert cluster.stats.counters == {"ejections": 1, "breaker_rejections": 4}
    assert dict(cluster.states) == {"breaker": "open"}
    assert w.endpoints[0].states["outlier"] == "ejected"
    events = registry.drain_events()
    assert [(e.kind, e.priority, e.time) for e in events] == [("endpoint_ejected", Priority.HIGH, 42.0)]
    assert registry.drain_events() == []
    again = roller.roll(now=2.0)
    assert not again.routes[0].stats.counters and again.unrouted == 0


def test_events_beyond_capacity_drop_the_oldest_with_a_count() -> None:
    registry = Registry(clock=lambda: 0.0, max_events=3)
    for i in range(5):
        registry.event(f"e{i}", Priority.LOW)
    assert [e.kind for e in registry.drain_events()] == ["e2", "e3", "e4"]
    assert registry.events_dropped == 2


def test_route_policy_counters_reach_windows_once() -> None:
    registry = Registry(clock=lambda: 0.0)
    registry.route("outbound", "r", "old-cluster")
    registry.route("outbound", "r", "c")  # the route now goes to "c": its decisions land there only
    roller = Roller(registry, WHO, now=0.0)
    decisions = registry.route_decisions("outbound", "r")
    decisions.retries += 3
    decisions.rate_limited += 1
    decisions.split["c"] += 4
    first = {r.cluster: dict(r.stats.counters) for r in roller.roll(now=1.0).routes}
    assert first == {"c": {"retries": 3, "rate_limited": 1, "split:c": 4}, "old-cluster": {}}
    decisions.retries += 2
    second = {r.cluster: dict(r.stats.counters) for r in roller.roll(now=2.0).routes}
    assert second == {"c": {"retries": 2}, "old-cluster": {}}


def test_cache_counters_reach_the_cluster_aggregate_of_the_window() -> None:
    from sidecar.layers.cache.state import CacheState
    from sidecar.runtime.observe import cache_counters

    cache = CacheState()
    registry = Registry(clock=lambda: 0.0)
    registry.refreshers.append(cache_counters(cache, registry))
    roller = Roller(registry, WHO, now=0.0)
    cache.counters_for("/p.S/Get", "backend").hits += 3
    cache.counters_for("/p.S/List", "backend").misses += 1
    cache.counters_for("/p.S/Get", "other").hits += 1
    w = roller.roll(now=1.0)
    got = {c.name: dict(c.stats.counters) for c in w.clusters}
    assert got == {"backend": {"cache_hits": 3, "cache_misses": 1}, "other": {"cache_hits": 1}}
    assert cache.snapshot().method("/p.S/Get").hits == 4  # CacheAdmin still shows per-method totals
    cache.counters_for("/p.S/Get", "backend").hits += 2
    assert {c.name: dict(c.stats.counters) for c in roller.roll(now=2.0).clusters} == {"backend": {"cache_hits": 2}}


def test_per_method_aggregates_add_up_to_the_route_and_idle_methods_are_left_out() -> None:
    """Each method's calls land in exactly one window, split from the route's; a method without calls
    in a window has no entry there (idle windows stay small)."""
    rng = random.Random(5)
    registry = Registry(clock=lambda: 0.0)
    route = registry.route("inbound", "r", "local")
    roller = Roller(registry, WHO, now=0.0)
    paths = ["/pkg.S/A", "/pkg.S/B", "/pkg.S/C"]
    finished: dict[str, int] = dict.fromkeys(paths, 0)
    failed: dict[str, int] = dict.fromkeys(paths, 0)
    windows: list[telemetry_pb2.TelemetryWindow] = []
    for step in range(1, 60):
        active = paths[:2] if step < 30 else paths  # C starts late
        for path in active:
            for _ in range(rng.randint(0, 3)):
                method = route.method(path)
                route.start()
                method.started += 1
                code = Code.NOT_FOUND if rng.random() < 0.25 else Code.OK
                seconds = rng.uniform(0.001, 0.05)
                route.finish(code, seconds)
                method.finish(code, seconds)
                finished[path] += 1
                failed[path] += code is not Code.OK
        if step % 5 == 0:
            windows.append(roller.roll(now=float(step)))
    windows.append(roller.roll(now=100.0))
    windows.append(roller.roll(now=101.0))  # nothing happened: no method entries
    assert not windows[-1].routes[0].methods
    for w in windows:
        r = w.routes[0]
        assert sum(m.stats.calls for m in r.methods) == r.stats.calls
        assert sum(m.stats.errors for m in r.methods) == r.stats.errors
    for path in paths:
        mine = [m.stats for w in windows for m in w.routes[0].methods if m.method == path]
        assert sum(s.calls for s in mine) == finished[path]
        assert sum(s.started for s in mine) == finished[path]
        assert sum(s.errors for s in mine) == failed[path] == sum(s.status_codes.get("NOT_FOUND", 0) for s in mine)
        assert sum(histogram.decode(s.latency).count for s in mine) == finished[path]
    assert all(m.method != "/pkg.S/C" for w in windows[:5] for m in w.routes[0].methods)
