"""M4's sMAPE and MASE against hand-worked numbers, and the two baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
