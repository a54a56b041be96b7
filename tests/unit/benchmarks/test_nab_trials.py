"""The NAB trial harness: recombining the kept feature tails gives the detector's own probabilities, and the
trial statistics are what they claim."""

from __future__ import annotations

import numpy as np

from benchmarks import nab_round5, nab_trials
from engines.anomaly import detector, synthetic


def test_recombined_tails_equal_the_detector() -> None:
    # A series with an incident, past the coarse scales' warm-up: every level and feature is exercised.
    item = next(c for c in synthetic.corpus(seed=5) if c.name == "flat_half_day")
    lv = nab_trials.levels("t/flat", "t", item.values, item.windows, synthetic.DAY)
    assert set(lv.coarse) == set(detector.DEFAULT.coarse_rows)
    want = detector.combined_probability(item.values, detector.DetectorConfig(period=synthetic.DAY))
    got = nab_trials.combine(lv)
    assert np.array_equal(got, want)
    assert (got < detector.DEFAULT.alarm_probability).any()
    # A channel that never speaks only adds a test: the probabilities grow by 4/3 where they are below 3/4.
    quiet = nab_trials.combine(lv, channels=[np.ones(len(item.values))])
    low = want < 0.5
    np.testing.assert_allclose(quiet[low], want[low] * 4 / 3, rtol=1e-12)


def _ks_naive(a: np.ndarray, b: np.ndarray) -> float:
    return max(abs(float((a <= v).mean()) - float((b <= v).mean())) for v in np.unique(np.concatenate((a, b))))


def test_ks_distance_and_rank_shift_match_their_definitions() -> None:
    rng = np.random.default_rng(3)
    x = np.round(np.concatenate((rng.normal(0, 1, 200), rng.normal(0.5, 3, 200))))  # ties on purpose
    ks = nab_round5.ks_distance(x, 24, 120, chunk=50)
    mw = nab_round5.rank_shift(x, 24, 120, chunk=50)
    assert np.isnan(ks[:143]).all() and np.isnan(mw[:143]).all()
    for i in (143, 250, 399):
        last, before = x[i - 23 : i + 1], x[i - 143 : i - 23]
        assert abs(ks[i] - _ks_naive(last, before)) < 1e-12
        auc = ((last[:, None] > before[None, :]).sum() + 0.5 * (last[:, None] == before[None, :]).sum()) / (24 * 120)
        assert abs(mw[i] - abs(auc - 0.5)) < 1e-12


def test_conformal_p_is_a_rank_among_the_past() -> None:
    g = np.concatenate(([np.nan] * 10, np.arange(300.0)))
    p = nab_round5.conformal_p(g, block=16, memory=100, min_history=50)
    assert (p[:64] == 1.0).all()  # fewer than 50 defined values before these blocks
    # row 299 (value 289): its block starts at row 288, whose past is rows 188..287 (values 178..277): none >= 289
    assert p[299] == 1 / 101
    assert np.all((p > 0) & (p <= 1))
