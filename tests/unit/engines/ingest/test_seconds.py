"""Summing windows of many instances into one per-second series of calls and merged latency (fake clock)."""

from __future__ import annotations

from apex.mesh.contract.histogram import FINE, Histogram

from engines.ingest.samples import Closed, Sample, Seconds


class RateSeries(Seconds):
    """Seconds fed like the engine does: dedupe on (service, instance, sequence), then add."""

    def add_window(
        self, service: str, instance: str, seq: int, second: int, calls: float, latency: Histogram | None = None
    ) -> None:
        if not self.seen(service, instance, seq):
            self.add(service, second, Sample(calls=calls, latency=latency or Histogram()))


def calls(points: list[Closed]) -> list[tuple[str, int, float]]:
    return [(p.key, p.second, p.sample.calls) for p in points]


def hist(*seconds: float, fine: bool = False) -> Histogram:
    h = Histogram(FINE) if fine else Histogram()
    for v in seconds:
        h.record(v)
    return h


def test_instances_are_summed_and_seconds_close_after_the_lag() -> None:
    s = RateSeries(lag=3)
    s.add_window("front", "a", 1, 100, 5)
    s.add_window("front", "b", 1, 100, 7)
    s.add_window("front", "a", 2, 101, 6)
    assert calls(s.close(now=102.5)) == []  # 100 is not older than now - lag yet
    assert calls(s.close(now=104.0)) == [("front", 100, 12.0)]
    s.add_window("front", "b", 2, 101, 1)  # a slower instance's window, still in time
    assert calls(s.close(now=106.0)) == [("front", 101, 7.0), ("front", 102, 0.0)]


def test_duplicates_and_late_windows_are_ignored_and_counted() -> None:
    s = RateSeries(lag=1)
    s.add_window("x", "a", 7, 50, 3)
    s.add_window("x", "a", 7, 50, 3)  # the same window read twice
    assert calls(s.close(now=52)) == [("x", 50, 3.0)]
    s.add_window("x", "b", 1, 50, 9)  # too late: second 50 is closed
    assert (s.duplicates, s.late) == (1, 1)


def test_services_are_independent() -> None:
    s = RateSeries(lag=0)
    s.add_window("a", "a1", 1, 10, 1)
    s.add_window("b", "b1", 1, 12, 2)
    assert calls(s.close(now=13)) == [("a", 10, 1.0), ("a", 11, 0.0), ("a", 12, 0.0), ("b", 12, 2.0)]


def test_latency_of_all_instances_merges_per_second() -> None:
    s = RateSeries(lag=0)
    s.add_window("front", "a", 1, 100, 2, hist(0.001, 0.002))
    s.add_window("front", "b", 1, 100, 1, hist(0.5, fine=True))  # a finer producer coarsens exactly
    s.add_window("front", "a", 2, 101, 0, Histogram())
    first, second = s.close(now=102)
    assert (
        first.sample.latency.count == 3
        and first.sample.latency.max == 0.5
        and first.sample.latency.percentile(100) > 0.4
    )
    assert first.sample.latency.buckets == hist(0.001, 0.002, 0.5).buckets
    assert second.sample.latency.count == 0 and second.sample.calls == 0.0
