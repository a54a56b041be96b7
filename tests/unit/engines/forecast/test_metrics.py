"""M4's sMAPE and MASE against hand-worked numbers, and the two baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engines.forecast import metrics


def test_smape_hand_worked() -> None:
    # |1-2| * 200 / 3 = 66.67 and 0 -> mean 33.33
    assert metrics.smape(np.array([1.0, 2.0]), np.array([2.0, 2.0])) == pytest.approx(100 / 3)
    assert metrics.smape(np.array([0.0]), np.array([0.0])) == 0.0
    assert metrics.smape(np.array([5.0]), np.array([-5.0])) == pytest.approx(200.0)


def test_mase_hand_worked() -> None:
    insample = np.array([1.0, 2, 3, 4, 5, 6])
    # seasonal differences with m=2 are all 2 -> scale 2; errors 1 and 2 -> 1.5 / 2
    assert metrics.mase_scale(insample, 2) == 2.0
    assert metrics.mase(insample, np.array([7.0, 8.0]), np.array([6.0, 10.0]), 2) == pytest.approx(0.75)
    # a series not longer than m is scaled by the lag-1 differences (all 1)
    assert metrics.mase_scale(insample, 6) == 1.0
    assert math.isinf(metrics.mase(np.ones(5), np.array([2.0]), np.array([1.0]), 1))


def test_baselines() -> None:
    y = np.array([1.0, 2, 3, 4, 5])
    assert list(metrics.naive(y, 3)) == [5, 5, 5]
    assert list(metrics.seasonal_naive(y, 5, 2)) == [4, 5, 4, 5, 4]
    assert list(metrics.seasonal_naive(y, 2, 9)) == [5, 5]


# Magnitudes below 1e-6 become 0: scaling a subnormal by k underflows, which is float arithmetic,
# not a property of the metrics.
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: 0.0 if abs(x) < 1e-6 else x)


@given(
    st.lists(finite, min_size=3, max_size=40),
    st.lists(st.tuples(finite, finite), min_size=1, max_size=10),
    st.floats(min_value=0.01, max_value=100),
)
def test_metric_properties(insample: list[float], pairs: list[tuple[float, float]], k: float) -> None:
    y = np.array(insample)
    actual, forecast = np.array([a for a, _ in pairs]), np.array([f for _, f in pairs])
    assert 0.0 <= metrics.smape(actual, forecast) <= 200.0
    assert metrics.smape(k * actual, k * forecast) == pytest.approx(metrics.smape(actual, forecast), abs=1e-9)
    if metrics.mase_scale(y, 2) > 1e-6:
        m = metrics.mase(y, actual, forecast, 2)
        assert m >= 0.0
        assert metrics.mase(k * y, k * actual, k * forecast, 2) == pytest.approx(m, rel=1e-6)
