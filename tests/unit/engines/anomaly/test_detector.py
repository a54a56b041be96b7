"""The online detector on synthetic series with known answers, and the proof that it is online."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.anomaly import calibrate, detector, features
from engines.anomaly.detector import DEFAULT, DetectorConfig, detect, rows_per_day

DAY = 288  # rows per day at 5-minute sampling


def _seasonal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 2, n)


def _cfg() -> DetectorConfig:
    return DetectorConfig(period=DAY)


def test_a_level_shift_is_alarmed_once() -> None:
    rng = np.random.default_rng(1)
    x = 50 + rng.normal(0, 1, 3000)
    x[1800:] += 15
    found = detect(x, DEFAULT)
    alarms = np.flatnonzero(found.alarms)
    assert any(1800 <= a < 1810 for a in alarms), alarms
    assert len([a for a in alarms if a >= 1800]) == 1, alarms


def test_a_seasonal_series_without_anomaly_stays_mostly_quiet() -> None:
    quiet = [int(detect(_seasonal(4000, seed), _cfg()).alarms.sum()) for seed in range(3)]
    assert max(quiet) <= 6, quiet  # a handful of alarms in 14 days of 5-minute data (0.1% of rows)


def test_a_spike_is_detected_at_once() -> None:
    x = _seasonal(4000, 7)
    x[3000] += 40
    found = detect(x, _cfg())
    assert found.probability[3000] < 1e-6
    # It alarms unless an alarm just before it suppresses it.
    before = found.alarms[3000 - DEFAULT.suppress_rows : 3000].sum()
    assert found.alarms[3000] == 1 or before == 1


def test_a_broken_daily_pattern_is_detected() -> None:
    x = _seasonal(4000, 11)
    x[3000 : 3000 + DAY // 2] = 100 + np.random.default_rng(2).normal(0, 2, DAY // 2)  # the swing goes flat
    alarms = np.flatnonzero(detect(x, _cfg()).alarms)
    assert any(3000 <= a < 3000 + DAY // 2 for a in alarms), alarms


def test_scores_are_in_unit_interval_and_nothing_alarms_before_min_history() -> None:
    x = _seasonal(1000, 3)
    x[50] = 1e6
    found = detect(x, _cfg())
    assert np.all((found.scores >= 0) & (found.scores <= 1))
    assert found.alarms[: DEFAULT.min_history].sum() == 0


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=1, max_value=1999), st.integers(min_value=0, max_value=2**31))
def test_online_truncating_at_row_k_gives_the_same_first_k_rows(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _seasonal(2000, seed % 1000) + np.where(rng.random(2000) < 0.01, rng.normal(0, 40, 2000), 0)
    x[1200:] += rng.normal(0, 20)
    full = detect(x, _cfg())
    part = detect(x[:k], _cfg())
    assert np.array_equal(full.scores[:k], part.scores)
    assert np.array_equal(full.alarms[:k], part.alarms)


def test_constant_and_tiny_series() -> None:
    assert detect(np.full(500, 3.0), DEFAULT).alarms.sum() == 0
    assert len(detect(np.zeros(0), DEFAULT).alarms) == 0
    assert detect(np.array([1.0, 2.0]), DEFAULT).alarms.sum() == 0


def test_rows_per_day_from_the_first_timestamps() -> None:
    five_min = np.arange(0, 300 * 100, 300, dtype=float)
    assert rows_per_day(five_min) == 288
    assert rows_per_day(np.arange(0, 3600 * 100, 3600, dtype=float)) == 24
    assert rows_per_day(np.arange(0, 86400 * 10, 86400, dtype=float)) == 0
    assert rows_per_day(np.array([5.0])) == 0


def test_suppress_keeps_one_alarm_per_incident() -> None:
    p = np.ones(100)
    p[[10, 11, 12, 40, 41, 95]] = 1e-4
    assert np.flatnonzero(detector.suppress(p, 1e-3, 20)).tolist() == [10, 40, 95]
    # With escalation, a much stronger event inside the window alarms too (and opens a new window).
    p[15] = 1e-9
    p[16] = 1e-11  # stronger than row 15, but not 1000 times
    assert np.flatnonzero(detector.suppress(p, 1e-3, 20, escalation=1e-3)).tolist() == [10, 15, 40, 95]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=-5, max_value=5), min_size=0, max_size=400),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=5, max_value=120),
)
def test_the_sliding_sorted_window_matches_a_fresh_sort(ints: list[int], block: int, memory: int) -> None:
    # Repeated values (ints) exercise the multiset removal.
    g = np.asarray(ints, dtype=float)
    window = np.empty(0)
    lo = hi = 0
    for start in range(0, len(g), block):
        new_lo = max(0, start - memory)
        window = calibrate._slide(window, g[lo:new_lo] if new_lo > lo else None, g[hi:start])
        lo, hi = max(lo, new_lo), start
        assert np.array_equal(window, np.sort(g[lo:start]))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=5, max_value=120),
    st.integers(min_value=5, max_value=100),
)
def test_windows_sorted_at_once_and_mirrored_give_the_slid_windows_probabilities(
    seed: int, rows: int, nans: int, block: int, memory: int, min_history: int
) -> None:
    # The calibration's fast paths (full windows sorted many at a time; -g's windows as g's reversed and
    # negated) against the plain one: sliding each feature's own window block by block. Ties and zeros
    # (0.0 and -0.0 once negated) on purpose, and skewed values; NaN on the first rows, as a feature not
    # defined yet.
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(rows) < 0.5, rng.integers(-5, 6, rows) / 2, rng.lognormal(0, 1, rows))
    g[: min(nans, rows)] = np.nan
    kw = {"block": block, "memory": memory, "tail_fraction": 0.02, "min_history": min_history}
    at_once = calibrate.SORT_AT_ONCE
    try:
        calibrate.SORT_AT_ONCE = 0  # every window slid
        slid = [calibrate.tail_probability(g, **kw), calibrate.tail_probability(-g, **kw)]  # type: ignore[arg-type]
    finally:
        calibrate.SORT_AT_ONCE = at_once
    fast = calibrate.tail_probabilities(g, mirror=True, **kw)  # type: ignore[arg-type]
    assert memory <= calibrate.SORT_AT_ONCE
    assert [p.tobytes() for p in fast] == [p.tobytes() for p in slid]


def test_a_recurring_excursion_stops_being_news() -> None:
    g = np.zeros(3000)
    g[500::250] = 10.0  # the same excursion every 250 rows from row 500 on
    p = calibrate.tail_probability(g, block=64, memory=4000, tail_fraction=0.02, min_history=150)
    spikes = p[500::250]
    assert spikes[0] < 1e-6  # the first one is news
    assert spikes[-1] > 3e-3  # by the tenth it is not: p >= the share of past rows as extreme


def test_streaming_in_batches_equals_one_batch_run() -> None:
    from engines.anomaly.stream import StreamingDetector

    x = _seasonal(2500, 4)
    x[1500:] += 25
    whole = detect(x, _cfg())
    stream = StreamingDetector(config=_cfg())
    parts = [stream.update(x[i : i + 97]) for i in range(0, len(x), 97)]
    assert np.array_equal(np.concatenate([s for s, _ in parts]), whole.scores)
    assert np.array_equal(np.concatenate([a for _, a in parts]), whole.alarms)


def _moderate_shift(seed: int) -> np.ndarray:
    """Noisy flat series whose level rises by one noise sd at row 3300: too little for any single row."""
    x = 50 + np.random.default_rng(seed).normal(0, 4, 4500)
    x[3300:] += 4
    return x


def test_overlapping_coarse_means_report_only_on_their_rows() -> None:
    x = _moderate_shift(0)
    for steps, stride in ((1, 24), (4, 6)):
        p = detector.coarse_probability(x, DetectorConfig(coarse_steps=steps), 24)
        reported = np.flatnonzero(p < 1)
        assert len(reported) > 0
        assert np.all((reported - 23) % stride == 0), reported[:10]


def test_overlapping_coarse_means_see_a_sustained_shift_no_later_than_blocks() -> None:
    def first_low(steps: int, seed: int) -> int:
        p = detector.coarse_probability(_moderate_shift(seed), DetectorConfig(coarse_steps=steps), 24)
        low = np.flatnonzero(p[3300:] < 1e-3)
        return int(low[0]) if len(low) else 10**6

    for seed in range(3):
        assert first_low(4, seed) <= first_low(1, seed) < 10**6
        assert first_low(2, seed) <= first_low(1, seed)


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=2900, max_value=4499))
def test_overlapping_coarse_means_are_online(k: int) -> None:
    x = _moderate_shift(5)
    cfg = DetectorConfig(coarse_steps=4)
    for a in cfg.coarse_rows:
        full = detector.coarse_probability(x, cfg, a)
        assert np.array_equal(full[:k], detector.coarse_probability(x[:k], cfg, a))


@settings(max_examples=20, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=1, max_value=40),
)
def test_novelty_distance_is_the_nearest_earlier_centred_subsequence(seed: int, n: int, w: int, horizon: int) -> None:
    x = np.round(np.random.default_rng(seed).normal(0, 1, n).cumsum(), 1)  # ties too
    got = features.novelty_distance(x, w, horizon, chunk_cells=7)  # many small chunks
    for i in range(n):
        j = i - w + 1
        cands = range(max(0, j - horizon), j - w + 1)
        if j < 0 or len(cands) == 0:
            assert np.isnan(got[i]), i
            continue
        cur = x[j : i + 1] - x[j : i + 1].mean()
        best = min(float(np.sum((cur - (x[s : s + w] - x[s : s + w].mean())) ** 2)) for s in cands)
        assert got[i] == pytest.approx(np.sqrt(best), rel=1e-9, abs=1e-9), i


def test_novelty_sees_a_changed_shape_that_no_value_feature_does() -> None:
    # A daily swing that recurs is close to its past; a day whose swing turns into a square wave of the
    # same range and mean is not, though every value lies inside the range seen the days before.
    t = np.arange(10 * DAY)
    x = 100 + 30 * np.sin(2 * np.pi * t / DAY) + np.random.default_rng(6).normal(0, 1, len(t))
    day = slice(8 * DAY, 9 * DAY)
    x[day] = 100 + 30 * np.sign(np.sin(2 * np.pi * t[day] / DAY)) * 0.7
    nov = features.novelty_distance(x, 16, 4 * DAY)
    quiet, changed = nov[4 * DAY : 8 * DAY], nov[day]
    assert np.nanmax(changed) > 3 * np.nanmax(quiet)
