"""The streaming detector, one point at a time, against the batch detector: the same outputs, row for row."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.anomaly import detector, features, nab_data
from engines.anomaly.detector import DEFAULT, DetectorConfig, detect
from engines.anomaly.online import OnlineDetector
from engines.anomaly.synthetic import corpus
from tests.support.shared_data import shared_dir


def _stream(x: np.ndarray, cfg: DetectorConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = OnlineDetector(cfg)
    out = [d.push(v) for v in x.tolist()]
    return (np.array([s for s, _, _ in out]), np.array([p for _, p, _ in out]),
            np.array([a for _, _, a in out], dtype=np.int8))  # fmt: skip


def _assert_same(x: np.ndarray, cfg: DetectorConfig) -> int:
    """Streamed and batch outputs agree on every row; returns the number of alarms."""
    batch = detect(x, cfg)
    scores, probability, alarms = _stream(x, cfg)
    assert np.array_equal(alarms, batch.alarms), np.flatnonzero(alarms != batch.alarms)[:10]
    # Every operation is the batch one on the same floats, except that exp is libm's per value here and
    # numpy's per array there (which may differ in the last bit on some CPUs).
    np.testing.assert_allclose(probability, batch.probability, rtol=1e-12, atol=0)
    np.testing.assert_allclose(scores, batch.scores, rtol=0, atol=1e-15)
    return int(alarms.sum())


def test_streamed_equals_batch_on_the_synthetic_corpus() -> None:
    # Seasonal traffic, noise, latency, errors; level shifts, spikes, outages, ramps (4,032 rows each:
    # past the running sums' exact restarts every 1,024 rows).
    alarms = 0
    for item in [c for c in corpus(seed=3) if c.windows]:  # the 6 series with incidents
        alarms += _assert_same(item.values, DetectorConfig(period=288))
    assert alarms > 5  # the comparison covers alarms, not only quiet rows


def test_streamed_equals_batch_past_the_bounded_memory() -> None:
    # A short memory and blocks: the tails' buffers are compacted many times, windows slide out values.
    rng = np.random.default_rng(8)
    t = np.arange(4500)
    x = 50 + 10 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 1, 4500)
    x[2000:] += 6
    x[3000] += 40
    x[3800:4000] = 50  # the swing goes flat
    cfg = DetectorConfig(period=96, memory=300, block=16, min_history=60, coarse_rows=(8, 24))
    assert _assert_same(x, cfg) >= 2


def test_streamed_equals_batch_on_nab_files() -> None:
    nab = shared_dir("data/nab")
    for key in ("realKnownCause/nyc_taxi.csv",):  # 10,320 rows, 48 a day: a period the corpus does not have
        series = nab_data.read_series(nab / "data" / key, key)
        head = [nab_data.parse_timestamp(t).timestamp() for t in series.timestamps[:64]]
        cfg = replace(DEFAULT, period=detector.rows_per_day(np.asarray(head)))
        assert cfg.period > 0
        assert _assert_same(series.values, cfg) > 0


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    rows=st.integers(min_value=1, max_value=1200),
    period=st.sampled_from([0, 1, 2, 24, 50]),
    steps=st.integers(min_value=1, max_value=4),
    block=st.integers(min_value=1, max_value=40),
    memory=st.sampled_from([60, 200]),  # 60: on some coarse scales, too short a memory for any shape novelty
    novelty=st.integers(min_value=0, max_value=3),
)
def test_streamed_equals_batch_for_any_settings(
    seed: int, rows: int, period: int, steps: int, block: int, memory: int, novelty: int
) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 1, rows).cumsum() + np.where(rng.random(rows) < 0.02, 30.0, 0.0), 1)  # ties too
    cfg = DetectorConfig(period=period, coarse_steps=steps, block=block, memory=memory, min_history=40,
                         coarse_rows=(6, 13), suppress_rows=20, escalation=1e-3,
                         novelty_window=novelty)  # fmt: skip
    _assert_same(x, cfg)


def test_window_sums_restart_exactly() -> None:
    # Rounding left by a huge value that has left the window is gone at the next restart.
    x = np.full(3000, 0.1)
    x[100] = 1e17
    sums = features.window_sums(x, 10)
    assert abs(sums[500] - 1.0) > 0.5  # 1e17 swallowed the 0.1s while it was in the window
    assert np.allclose(sums[features.RESYNC :], 1.0, rtol=0, atol=1e-12)


def test_non_finite_values_are_refused_with_the_row() -> None:
    d = OnlineDetector()
    d.push(1.0)
    with pytest.raises(ValueError, match="row 1 is nan"):
        d.push(float("nan"))
