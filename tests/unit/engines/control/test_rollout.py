"""Canary selection."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engines.control.rollout import canary_count, select, target

IDS = [f"echo-{i}" for i in range(10)]


def test_canary_count_rounds_up_and_covers_the_edges() -> None:
    assert [canary_count(10, p) for p in (0, 5, 10, 25, 50, 99.9, 100)] == [0, 1, 1, 3, 5, 10, 10]
    assert canary_count(3, 50) == 2
    assert canary_count(0, 50) == 0


@given(st.floats(min_value=0, max_value=100), st.integers(min_value=1, max_value=1000))
def test_selection_size_matches_the_percentage_and_is_deterministic(percent: float, version: int) -> None:
    chosen = select("echo", version, IDS, percent)
    assert len(chosen) == canary_count(len(IDS), percent)
    assert chosen <= set(IDS)
    assert select("echo", version, list(reversed(IDS)), percent) == chosen


def test_a_larger_percentage_keeps_the_earlier_canaries() -> None:
    assert select("echo", 3, IDS, 20) <= select("echo", 3, IDS, 50) <= select("echo", 3, IDS, 100)


def test_different_versions_pick_different_instances() -> None:
    picks = {select("echo", v, IDS, 10) for v in range(1, 30)}
    assert len(picks) > 3


def test_target_gives_canaries_the_latest_and_the_rest_the_stable_version() -> None:
    # the canaries written out (the three lowest sha256 ranks of echo/5/<id>), not taken from select()
    canaries = {"echo-0", "echo-3", "echo-4"}
    assert select("echo", 5, IDS, 30) == canaries
    assert {i: target("echo", 5, 30.0, 4, i, IDS) for i in IDS} == {i: 5 if i in canaries else 4 for i in IDS}
    assert target("echo", 5, 100.0, 5, "echo-0", IDS) == 5
    assert target("echo", 1, 30.0, 0, "echo-0", ["echo-0"]) == 1  # one instance: the canary is it
