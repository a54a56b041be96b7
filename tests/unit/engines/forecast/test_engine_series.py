"""Ring buffers, multi-resolution series and their snapshot; seconds merged over instances, once."""

from __future__ import annotations

import io
import zlib

import numpy as np
from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import Histogram
from apex.mesh.v1 import telemetry_pb2

from engines.forecast.ring import COL, MultiRes, Ring
from engines.ingest.samples import Sample, Seconds, window_samples


def lat(*seconds: float) -> Histogram:
    h = Histogram()
    for s in seconds:
        h.record(s)
    return h


def test_ring_keeps_the_last_capacity_rows_in_order() -> None:
    ring = Ring(3, width=len(COL))
    for t in range(5):
        ring.push(t, np.full(len(COL), float(t)))
    times, values = ring.column("rate")
    assert times.tolist() == [2, 3, 4] and values.tolist() == [2.0, 3.0, 4.0]
    assert ring.column("rate", last=2)[0].tolist() == [3, 4]


def test_multires_rows_per_resolution_rates_ratios_and_merged_quantiles() -> None:
    m = MultiRes((1, 10), {1: 100, 10: 10})
    for second in range(100, 121):  # 21 seconds: two full 10 s periods written
        m.add(second, Sample(calls=10, errors=1, cache_hits=3, cache_misses=1, in_flight=2, latency=lat(0.01, 0.2)))
    t10, rate10 = m.rings[10].column("rate")
    assert t10.tolist() == [100, 110] and rate10.tolist() == [10.0, 10.0]
    _, err = m.rings[10].column("error_rate")
    _, hit = m.rings[10].column("cache_hit_ratio")
    _, p99 = m.rings[10].column("p99")
    assert err.tolist() == [0.1, 0.1] and hit.tolist() == [0.75, 0.75]
    assert abs(p99[0] - 0.2) / 0.2 < histogram.STANDARD.relative_error
    assert m.rings[1].size == 20  # the 21st second is still open
    assert np.isnan(m.rings[1].column("p99")[1]).sum() == 0


def test_empty_seconds_read_zero_rate_and_no_latency() -> None:
    m = MultiRes((1,), {1: 10})
    m.add(1, Sample())
    m.add(2, Sample())
    _, p99 = m.rings[1].column("p99")
    assert m.rings[1].column("rate")[1].tolist() == [0.0] and np.isnan(p99[0])


def test_snapshot_round_trip_resumes_open_periods() -> None:
    a = MultiRes((1, 60), {1: 50, 60: 5})
    b_parts = [(s, Sample(calls=s % 7, latency=lat(0.001 * (s % 5 + 1)))) for s in range(1000, 1130)]
    for s, sample in b_parts[:70]:
        a.add(s, sample)
    restored = MultiRes.from_bytes(a.to_bytes())
    whole = MultiRes((1, 60), {1: 50, 60: 5})
    for s, sample in b_parts:
        whole.add(s, sample)
        if s >= 1070:
            restored.add(s, sample)
    for r in (1, 60):
        for name in ("rate", "p99"):
            np.testing.assert_array_equal(restored.rings[r].column(name)[1], whole.rings[r].column(name)[1])
    assert restored.last_second == whole.last_second == 1129
    assert len(a.to_bytes()) < 20_000  # compact


def window(instance: str, seq: int, second: int, calls: int) -> telemetry_pb2.TelemetryWindow:
    w = telemetry_pb2.TelemetryWindow(service="shop", instance=instance, sequence=seq)
    w.window_start.FromSeconds(second)
    r = w.routes.add(listener="inbound", route="buy", cluster="local")
    r.stats.calls, r.stats.errors, r.stats.in_flight, r.stats.started = calls, 1, 3, calls + 2
    r.stats.status_codes["RESOURCE_EXHAUSTED"] = 1
    r.stats.counters["rate_limited"] = 1  # the rate limit refused the call (the refusal counted, not the status)
    r.stats.counters["cache_hits"] = 2
    histogram.encode(lat(0.05), r.stats.latency)
    w.routes.add(listener="outbound", route="x", cluster="x").stats.calls = 999
    c = w.clusters.add(name="pricing")
    c.stats.calls = 4
    local = w.clusters.add(name="local")  # the cache layer counts on the cluster the route uses
    local.stats.counters["cache_hits"], local.stats.counters["cache_misses"] = 5, 3
    pricing = w.clusters.add(name="pricing-unused")  # no inbound route uses it: not the service's
    pricing.stats.counters["cache_hits"] = 100
    return w


def test_window_samples_per_service_route_and_cluster() -> None:
    s = window_samples(window("a", 1, 10, 8), frozenset({"inbound"}))
    assert set(s) == {"shop", "shop/inbound:buy", "shop#pricing", "shop#local", "shop#pricing-unused"}
    assert (s["shop"].calls, s["shop"].errors, s["shop"].rejections) == (8, 1, 1)
    assert (s["shop"].cache_hits, s["shop"].cache_misses) == (2 + 5, 3)
    assert s["shop#pricing"].calls == 4
    assert s["shop"].started == s["shop/inbound:buy"].started == 10  # arrivals: the demand, beyond what finished


def test_started_calls_are_the_arrival_rate_and_missing_where_not_reported() -> None:
    m = MultiRes((1, 10), {1: 100, 10: 10})
    for second in range(100, 111):
        m.add(second, Sample(calls=10, started=12 if second < 105 else 0))
    _, started = m.rings[1].column("started")
    assert started[:5].tolist() == [12.0] * 5 and np.isnan(started[5:]).all()  # calls finished, none started
    assert m.rings[10].column("started")[1].tolist() == [6.0]  # 5 x 12 over 10 s
    m.add(111, Sample())
    m.add(112, Sample())
    assert m.rings[1].column("started")[1][-1] == 0.0  # idle: nothing started, nothing finished


def test_a_snapshot_from_before_started_reads_it_as_missing() -> None:
    m = MultiRes((1,), {1: 10})
    for second in range(100, 106):
        m.add(second, Sample(calls=4, started=5))
    with np.load(io.BytesIO(zlib.decompress(m.to_bytes()))) as z:
        old = {name: z[name] for name in z.files}
    old["v1"], old["s1"] = old["v1"][:, :-1], old["s1"][:-1]  # the layout without `started`
    buf = io.BytesIO()
    np.savez(buf, **old)
    restored = MultiRes.from_bytes(zlib.compress(buf.getvalue()))
    times, started = restored.rings[1].column("started")
    assert times.tolist() == [100, 101, 102, 103, 104] and np.isnan(started).all()
    assert restored.rings[1].column("rate")[1].tolist() == [4.0] * 5
    restored.add(106, Sample(calls=4, started=5))  # the open second 105 had 4 calls, none reported started
    assert restored.rings[1].column("rate")[1][-1] == 4.0 and np.isnan(restored.rings[1].column("started")[1][-1])


def test_seconds_merge_instances_dedupe_and_resume() -> None:
    sec = Seconds(lag=2)
    for inst, seq, calls in (("a", 1, 5), ("b", 1, 7), ("a", 1, 5)):  # the third is a redelivery
        if not sec.seen("shop", inst, seq):
            sec.add("shop", 100, Sample(calls=calls))
    closed = sec.close(103.0)
    assert [(c.second, c.sample.calls) for c in closed] == [(100, 12.0)]
    assert sec.duplicates == 1
    sec2 = Seconds(lag=2)
    sec2.resume("shop", 101)  # a snapshot held second 100 already
    sec2.add("shop", 100, Sample(calls=5))
    sec2.add("shop", 101, Sample(calls=1))
    assert [(c.second, c.sample.calls) for c in sec2.close(104.0)] == [(101, 1.0)] and sec2.late == 1
