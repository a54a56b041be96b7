"""The forecasting models on synthetic series with known answers: periods, damped trend, outliers,
level shifts, interval coverage, and the fall-back to seasonal naive."""

from __future__ import annotations

import numpy as np
import pytest

from engines.forecast import candidates, metrics, periods, select, synthetic


def hourly(n: int = 24 * 7 * 6, seed: int = 1, **kw: object) -> np.ndarray:
    return synthetic.traffic(n, np.random.default_rng(seed), **kw)  # type: ignore[arg-type]


def test_hourly_series_shows_a_day_and_a_week() -> None:
    y = hourly(weekend_drop=0.4)
    assert periods.find_periods(y, periods.natural_periods(3600)) == (24, 168)


def test_a_daily_only_series_is_not_given_a_week() -> None:
    y = hourly(week=None)
    assert periods.find_periods(y, periods.natural_periods(3600)) == (24,)


def test_five_minute_series_shows_a_day_of_288_points() -> None:
    assert periods.natural_periods(300) == (288, 2016)
    y = synthetic.traffic(288 * 5, np.random.default_rng(2), day=288, week=None)
    assert periods.find_periods(y, periods.natural_periods(300)) == (288,)


def test_a_period_is_found_without_candidates() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(600)
    y = 10 + 3 * np.sin(2 * np.pi * t / 50) + 0.5 * rng.standard_normal(600)
    assert periods.find_periods(y) == (50,)
    assert periods.find_periods(rng.standard_normal(600), (24, 168)) == ()


def test_a_cycle_that_is_no_clock_period_is_discovered_at_any_resolution() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(600)
    y = 10 + 3 * np.sin(2 * np.pi * t / 50) + 0.5 * rng.standard_normal(600)  # 50 s at 1 s: no clock period
    assert 50 not in periods.natural_periods(1)
    assert periods.find_periods(y, periods.natural_periods(1)) == (50,)
    assert periods.find_periods(y, periods.natural_periods(1), discover_acf=2.0) == ()  # without discovery
    assert periods.discovered(y) == (50,) and periods.discovered(y[:140]) == ()  # fewer than 3 cycles
    assert select.forecast(y, 30, resolution_s=1).periods == (50,)
    assert periods.discovered(rng.standard_normal(600)) == ()


def test_a_discovered_multiple_of_a_found_period_is_the_period_again() -> None:
    t = np.arange(24 * 14)
    amplitude = np.where((t // 24) % 2 == 0, 3.0, 1.5)  # big and small days alternate: lag 48 beats 24
    y = 10 + amplitude * np.sin(2 * np.pi * t / 24) + 0.3 * np.random.default_rng(4).standard_normal(t.size)
    assert periods.discovered(y) == (48,)
    assert periods.find_periods(y, periods.natural_periods(3600)) == (24,)  # not (24, 48): two days are the day again


def test_natural_periods_per_resolution() -> None:
    assert periods.natural_periods(3600) == (24, 168)
    assert periods.natural_periods(60) == (60, 1440, 10080)
    assert periods.natural_periods(1) == (60, 3600, 86400, 604800)
    assert periods.periods_for_season(24) == (24, 168)
    assert periods.periods_for_season(12) == (12,)


def test_damped_trend_does_not_run_away() -> None:
    y = np.linspace(0, 300, 301) + np.random.default_rng(4).normal(0, 1, 301)  # slope 1 per step
    f = select.forecast(y, 400, periods=())
    assert f.mean[-1] - y[-1] < 60  # a linear trend would add 400
    level, trend, phi, _ = candidates.holt_grid(y)
    assert phi < 1 and candidates.damped(level, trend, phi, 10_000)[-1] < level + trend * phi / (1 - phi) + 1e-6


def test_an_outlier_in_the_last_day_does_not_wreck_the_forecast() -> None:
    n, h = 24 * 7 * 5, 48
    full = hourly(n + h, seed=5, noise=0.03)
    y, future = full[:n].copy(), full[n:]
    clean_mae = float(np.mean(np.abs(select.forecast(y, h, season=24).mean - future)))
    y[n - 20] *= 10  # a spike 20 hours before the end: seasonal naive would repeat it at step 4
    f = select.forecast(y, h, season=24)
    assert float(np.mean(np.abs(f.mean - future))) < 1.5 * clean_mae
    assert f.mean[3] < 2 * future[3]


def test_a_level_shift_is_followed() -> None:
    n, h = 24 * 7 * 5, 48
    full = hourly(n + h, seed=6, week=None, noise=0.03, shift_at=n - 72, shift=0.5)  # +50%, 3 days before the end
    f = select.forecast(full[:n], h, season=24)
    assert 0.85 < f.mean.mean() / full[n:].mean() < 1.15


def test_interval_coverage_is_roughly_right_on_noise() -> None:
    inside80, inside95 = [], []
    for seed in range(8):
        y = 100 + 10 * np.random.default_rng(seed).standard_normal(624)
        f = select.forecast(y[:600], 24, season=24)
        actual = y[600:]
        inside80.append(np.mean((actual >= f.lower[0.8]) & (actual <= f.upper[0.8])))
        inside95.append(np.mean((actual >= f.lower[0.95]) & (actual <= f.upper[0.95])))
    assert 0.65 <= np.mean(inside80) <= 0.95
    assert 0.85 <= np.mean(inside95) <= 1.0
    assert np.all(np.diff(f.upper[0.8] - f.lower[0.8]) >= -1e-9)  # never narrower further ahead


def test_seasonal_naive_is_chosen_where_it_is_best() -> None:
    # a seasonal random walk: each day repeats the last one plus a fresh change, so only the last
    # day matters and every averaging model is worse
    rng = np.random.default_rng(7)
    days = np.cumsum(rng.normal(0, 5, size=(40, 24)), axis=0) + 100 + 30 * rng.random(24)
    y = days.ravel()
    f = select.forecast(y, 24, season=24)
    assert f.model == select.BASELINE
    assert np.allclose(f.mean, y[-24:])


def test_a_short_series_falls_back_and_says_so() -> None:
    f = select.forecast(np.array([3.0, 4.0, 5.0]), 5, season=24)
    assert f.model == "naive" and "too short" in f.note
    assert np.allclose(f.mean, 5.0)


def test_combination_beats_seasonal_naive_on_synthetic_traffic() -> None:
    data = synthetic.panel(6, 24 * 7 * 4 + 48, seed=8)
    ours, base = [], []
    for y in data.values():
        train, actual = y[:-48], y[-48:]
        ours.append(metrics.mase(train, actual, select.forecast(train, 48, season=24).mean, 24))
        base.append(metrics.mase(train, actual, metrics.seasonal_naive(train, 48, 24), 24))
    assert np.mean(ours) < 0.9 * np.mean(base)


def test_bad_series_and_config_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        select.forecast(np.array([1.0, np.nan]), 3)
    with pytest.raises(ValueError, match="horizon"):
        select.forecast(np.ones(10), 0)
    with pytest.raises(ValueError, match="unknown models"):
        select.Config(models=("nope",))


def test_series_forecaster_reselects_only_every_so_often() -> None:
    from engines.forecast.service import SeriesForecaster

    y = hourly(24 * 7 * 3, seed=9)
    sf = SeriesForecaster(horizon=24, resolution_s=3600, reselect_every=600)
    first = sf.forecast("catalog/rate", y, now=0.0)
    assert first.periods[0] == 24 and len(first.mean) == 24
    later = sf.forecast("catalog/rate", np.append(y, y[-24]), now=300.0)  # refit: same model, new end
    assert later.model == first.model and later.scores is first.scores
    assert set(later.upper) == {0.8, 0.95} and np.all(later.upper[0.8] >= later.mean)
    again = sf.forecast("catalog/rate", y, now=900.0)
    assert again.scores is not first.scores  # re-selected
