"""The tuner's state from real telemetry windows: per-window figures, the "good" estimate, which routes and
clusters count, and the seconds (dedupe, late windows, resume after a restored model)."""

from __future__ import annotations

from apex.mesh.contract import histogram
from apex.mesh.v1 import telemetry_pb2

from engines.tune.agent import discretise
from engines.tune.observe import Part, Seconds, Stats, good, observe, stats
from engines.tune.params import Params

INBOUND = frozenset({"inbound"})


def _hist(latencies: list[float]) -> histogram.Histogram:
    h = histogram.Histogram()
    for x in latencies:
        h.record(x)
    return h


def window(**kw: int) -> telemetry_pb2.TelemetryWindow:
    w = telemetry_pb2.TelemetryWindow(service="shop", instance="a", sequence=1, policy_version="4")
    r = w.routes.add(listener="inbound", route="buy", cluster="local")
    r.stats.started, r.stats.calls, r.stats.errors = kw.get("started", 100), 100, kw.get("errors", 0)
    r.stats.in_flight = 7
    r.stats.status_codes["DEADLINE_EXCEEDED"] = kw.get("timeouts", 0)
    r.stats.counters["retries"] = 3
    r.stats.counters["rate_limited"] = 2
    histogram.encode(_hist([0.01] * 90 + [0.5] * 10), r.stats.latency)
    out = w.routes.add(listener="outbound", route="pay", cluster="payments")  # another listener: not counted
    out.stats.calls = out.stats.errors = 50
    c = w.clusters.add(name="local")
    c.stats.counters.update({"caps_rejected_max_requests": 5, "cache_hits": 11, "cache_stale_if_error": 1})
    w.clusters.add(name="payments").stats.counters["caps_rejected_max_requests"] = 40  # outbound's cluster
    w.endpoints.add(cluster="local", address="10.0.0.1:80").states["outlier"] = "ejected"
    w.endpoints.add(cluster="payments", address="10.0.0.2:80").states["outlier"] = "ejected"
    return w


def test_a_window_becomes_the_figures_the_agent_reads() -> None:
    s = stats(window(errors=4, timeouts=1), INBOUND, slo=0.1)
    assert (s.started, s.calls, s.errors, s.timeouts, s.retries) == (100, 100, 4, 1, 3)
    assert s.rejected == 2 + 5  # route rate limit + the tuned route's cluster cap, not the outbound's
    assert (s.cache_hits, s.stale, s.inflight, s.ejected) == (11, 1, 7, 1)
    assert s.latency.count == 100
    # 90 calls within 100 ms, less the 3 fast errors (4 errors, 1 of them a timeout, assumed slow)
    assert s.good == 87


def test_good_is_bounded_by_ok_calls_and_never_negative() -> None:
    fast = _hist([0.001] * 10)
    assert good(fast, 10, 0, 0, 0.1) == 10
    assert good(fast, 10, 10, 0, 0.1) == 0  # every call failed fast
    assert good(_hist([1.0] * 10), 10, 0, 0, 0.1) == 0  # every call slow
    assert good(_hist([1.0] * 10), 10, 10, 10, 0.1) == 0  # timeouts
    assert good(histogram.Histogram(), 5, 1, 0, 0.1) == 4  # no latency recorded: ok calls count


def test_instances_sum_into_one_observation() -> None:
    a, b = stats(window(), INBOUND, 0.1), stats(window(errors=50), INBOUND, 0.1)
    obs = observe([a, b], t=10.0, slo=0.1)
    assert (obs.offered, obs.calls, obs.errors, obs.ok, obs.inflight) == (200, 200, 50, 150, 14)
    assert obs.good == a.good + b.good
    assert obs.histogram.count == 200
    assert 0.45 < obs.p99 < 0.55 and obs.p50 < 0.02
    assert a.latency.count == 100  # summing did not touch the parts
    state = discretise(obs, Params(concurrency=10), prev_offered=100)
    assert 0 <= state < 3**7
    empty = observe([], t=1.0, slo=0.1)
    assert (empty.offered, empty.p99) == (0, 0.0)


def test_offered_counts_calls_that_started_but_have_not_ended() -> None:
    obs = observe([stats(window(started=160), INBOUND, 0.1)], t=1.0, slo=0.1)
    assert obs.offered == 160 and obs.calls == 100


def test_seconds_dedupe_close_in_order_and_resume() -> None:
    sec = Seconds(lag=2.0)
    part = Part("a", "4", Stats(calls=1))
    assert sec.add("shop", 100, 1, part)
    assert not sec.add("shop", 100, 1, part)  # the same window read again
    assert sec.add("shop", 102, 2, Part("a", "4", Stats(calls=2)))
    assert sec.add("shop", 100, 7, Part("b", "5", Stats(calls=3)))
    assert sec.duplicates == 1
    closed = sec.close(now=103.5)  # seconds < 101 close
    assert [(s, n, [p.stats.calls for p in parts]) for s, n, parts in closed] == [("shop", 100, [1, 3])]
    closed = sec.close(now=105.0)
    assert [(n, len(parts)) for _, n, parts in closed] == [(101, 0), (102, 1)]  # a silent second is empty
    assert not sec.add("shop", 101, 3, part) and sec.late == 1
    fresh = Seconds(lag=2.0)
    fresh.resume("shop", 200)  # a restored model holds everything before second 200
    assert not fresh.add("shop", 199, 1, part) and fresh.late == 1
    assert fresh.add("shop", 200, 2, part)
    assert [n for _, n, _ in fresh.close(203.0)] == [200]
