"""The NAB scorer on hand-worked cases: null 0, perfect 100, FP cost, probation, first detection only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.anomaly import nab_score
from engines.anomaly.nab_score import PROFILES, probation_rows, scaled_sigmoid, score_corpus, score_file

STD = PROFILES["standard"]


def _alarms(rows: int, at: list[int]) -> list[int]:
    a = [0] * rows
    for i in at:
        a[i] = 1
    return a


def test_scaled_sigmoid_landmarks() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(4032) == 604
    assert probation_rows(20000) == 750


WINDOWS = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4)


@st.composite
def files(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """A file of 1000 rows with 1-4 disjoint windows after the probation (rows 150+)."""
    starts = sorted(set(draw(WINDOWS)))
    wins = [(200 + 200 * k, 200 + 200 * k + 20 + 5 * (s % 7)) for k, s in enumerate(starts)]
    return 1000, wins


@given(files())
def test_no_alarm_scores_zero_and_perfect_100(f: tuple[int, list[tuple[int, int]]]) -> None:
    rows, wins = f
    none = score_corpus([(_alarms(rows, []), wins)])
    perfect = score_corpus([(_alarms(rows, [s for s, _ in wins]), wins)])
    for name in PROFILES:
        assert none[name] == pytest.approx(0.0)
        assert perfect[name] == pytest.approx(100.0)


@given(files(), st.integers(min_value=1, max_value=5))
def test_only_the_first_detection_in_a_window_counts(f: tuple[int, list[tuple[int, int]]], extra: int) -> None:
    rows, wins = f
    first = [s for s, _ in wins]
    more = first + [min(e, s + 1 + k) for s, e in wins for k in range(extra)]
    for profile in PROFILES.values():
        assert score_file(_alarms(rows, more), wins, profile).score == pytest.approx(
            score_file(_alarms(rows, first), wins, profile).score
        )


def test_a_false_positive_before_any_window_costs_the_profiles_fp_weight() -> None:
    wins = [(600, 650)]
    for profile in PROFILES.values():
        base = score_file(_alarms(1000, [600]), wins, profile).score
        with_fp = score_file(_alarms(1000, [300, 600]), wins, profile).score
        assert with_fp - base == pytest.approx(-profile.fp)
    assert PROFILES["reward_low_FP_rate"].fp == pytest.approx(0.22)


def test_a_false_positive_right_after_a_window_costs_little_far_after_costs_fp() -> None:
    wins = [(300, 350)]
    near = score_file(_alarms(1000, [351]), wins, STD)
    far = score_file(_alarms(1000, [900]), wins, STD)
    assert near.false_alarms == far.false_alarms == 1
    # 1 row after a window of width 51: S(1/50) * 0.11, a tiny cost; 550 rows after: the full 0.11.
    assert near.score - (-1.0) == pytest.approx(scaled_sigmoid(1 / 50) * 0.11)
    assert far.score - (-1.0) == pytest.approx(-0.11)


def test_alarms_in_the_probation_period_are_ignored() -> None:
    wins = [(500, 560)]
    assert score_file(_alarms(1000, [10, 100, 149]), wins, STD).score == pytest.approx(-1.0)
    # A window entirely inside the probation period is not scored at all.
    early = [(20, 40), (500, 560)]
    fs = score_file(_alarms(1000, [20, 500]), early, STD)
    assert fs.windows == 1 and fs.score == pytest.approx(1.0)


def test_a_late_detection_earns_less_and_a_miss_costs_fn() -> None:
    wins = [(400, 499)]
    early = score_file(_alarms(1000, [400]), wins, STD).score
    mid = score_file(_alarms(1000, [450]), wins, STD).score
    late = score_file(_alarms(1000, [499]), wins, STD).score
    assert early == pytest.approx(1.0)
    assert early > mid > late > 0
    assert mid == pytest.approx(scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0))
    assert score_file(_alarms(1000, []), wins, PROFILES["reward_low_FN_rate"]).score == pytest.approx(-2.0)


def test_windows_map_to_rows_by_timestamp() -> None:
    stamps = [f"2020-01-01 00:{m:02d}:00" for m in range(10)]
    rows = nab_score.window_rows(stamps, [("2020-01-01 00:03:00.000000", "2020-01-01 00:05:00.000000")])
    assert rows == [(3, 5)]
    with pytest.raises(ValueError, match="not timestamps of the file"):
        nab_score.window_rows(stamps, [("2021-01-01 00:00:00", "2021-01-01 00:01:00")])


def test_overlapping_windows_do_not_stall_the_scorer() -> None:
    # Labels should not overlap, but a bad labels file must not hang or drop later windows.
    wins = [(200, 300), (250, 320), (260, 270), (600, 650)]
    fs = score_file(_alarms(1000, [200, 600]), wins, STD)
    assert fs.detected == 2 and fs.windows == 3  # the third lies inside the first: no row of its own
