"""Summing windows of many instances into one per-second series (fake clock)."""

from __future__ import annotations

from engines.forecast.series import RateSeries


def test_instances_are_summed_and_seconds_close_after_the_lag() -> None:
    s = RateSeries(lag=3)
    s.add("front", "a", 1, 100, 5)
    s.add("front", "b", 1, 100, 7)
    s.add("front", "a", 2, 101, 6)
    assert s.close(now=102.5) == []  # 100 is not older than now - lag yet
    assert s.close(now=104.0) == [("front", 100, 12.0)]
    s.add("front", "b", 2, 101, 1)  # a slower instance's window, still in time
    assert s.close(now=106.0) == [("front", 101, 7.0), ("front", 102, 0.0)]


def test_duplicates_and_late_windows_are_ignored_and_counted() -> None:
    s = RateSeries(lag=1)
    s.add("x", "a", 7, 50, 3)
    s.add("x", "a", 7, 50, 3)  # the same window read twice
    assert s.close(now=52) == [("x", 50, 3.0)]
    s.add("x", "b", 1, 50, 9)  # too late: second 50 is closed
    assert (s.duplicates, s.late) == (1, 1)


def test_services_are_independent() -> None:
    s = RateSeries(lag=0)
    s.add("a", "a1", 1, 10, 1)
    s.add("b", "b1", 1, 12, 2)
    assert s.close(now=13) == [("a", 10, 1.0), ("a", 11, 0.0), ("a", 12, 0.0), ("b", 12, 2.0)]
