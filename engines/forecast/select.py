"""Per-series model choice by rolling-origin backtests, combinations, and prediction intervals.

`forecast(y, h, season=…)` runs every candidate from several origins inside the series' own
history and scores each by its mean absolute error against what followed; the median and the mean
of the best three (by mean rank over the origins) are scored the same way, and the better
combination is used, unless seasonal naive on the raw series (always computed) backtests clearly
and consistently better, in which case it is. Intervals are empirical quantiles of the chosen
forecast's backtest errors per horizon step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engines.forecast import candidates as cand
from engines.forecast.periods import find_periods, natural_periods, periods_for_season

Array = NDArray[np.float64]
BASELINE = "snaive"


@dataclass(frozen=True, slots=True)
class Config:
    origins: int = 5  # backtest origins
    origin_step: int = 0  # points between origins (0: half the horizon)
    combine_top: int = 3  # the combinations take the median / mean of this many best singles
    # a single model is chosen over the best combination only when its backtest error is lower by
    # this relative margin (1: never); seasonal naive when it is lower by `baseline_margin` overall
    # and lower at `baseline_consistency` of at least three origins (one lucky window is not enough)
    single_margin: float = 1.0
    baseline_margin: float = 0.1
    baseline_consistency: float = 0.8
    levels: tuple[float, ...] = (0.8, 0.95)  # prediction-interval coverage
    # which candidates the combinations take: the best by mean rank over the origins ("rank": one
    # origin with an anomaly in its window cannot dominate) or by mean absolute error ("mae")
    rank_by: str = "rank"
    models: tuple[str, ...] = cand.CANDIDATES

    def __post_init__(self) -> None:
        if self.origins < 1 or self.origin_step < 0 or self.combine_top < 1:
            raise ValueError("origins >= 1, origin_step >= 0 and combine_top >= 1 are required")
        unknown = set(self.models) - set(cand.CANDIDATES)
        if unknown:
            raise ValueError(f"unknown models: {sorted(unknown)} (known: {sorted(cand.CANDIDATES)})")
        if self.rank_by not in ("rank", "mae"):
            raise ValueError(f"rank_by must be 'rank' or 'mae', got {self.rank_by!r}")
        if any(not 0 < level < 1 for level in self.levels):
            raise ValueError(f"interval levels must be in (0, 1), got {self.levels}")


DEFAULT = Config()


@dataclass(frozen=True, slots=True)
class Forecast:
    mean: Array  # the h point forecasts
    lower: dict[float, Array]  # per coverage level
    upper: dict[float, Array]
    model: str  # the chosen candidate (or combination)
    periods: tuple[int, ...]
    scores: dict[str, float] = field(default_factory=dict)  # backtest MAE per candidate
    note: str = ""  # why a fallback was used, if one was
    members: tuple[str, ...] = ()  # the candidates a combination combines


def refit(y: Array, h: int, chosen: Forecast, season: int | None = None) -> Forecast:
    """Forecast from the end of `y` with the model `chosen` picked (no backtests): for frequent
    updates between selections. Intervals keep `chosen`'s half-widths (repeated past its horizon)."""
    y = np.asarray(y, dtype=np.float64)
    m = season or 1
    if chosen.model == "naive" or len(y) < 2:
        mean = np.full(h, float(y[-1]))
    else:
        names = chosen.members or (chosen.model,)
        runs = _run_all(y, h, chosen.periods, m, names)
        if chosen.members:
            stack = np.vstack([runs[n] for n in chosen.members if n in runs])
            mean = np.median(stack, axis=0) if chosen.model == "median_top" else stack.mean(axis=0)
        else:
            mean = runs.get(chosen.model, runs[BASELINE])
    nonneg = bool(y.min() >= 0)
    if nonneg:
        mean = np.maximum(mean, 0.0)
    lower, upper = {}, {}
    for level, up in chosen.upper.items():
        half = up - chosen.mean
        half = half[np.minimum(np.arange(h), len(half) - 1)]
        lower[level] = np.maximum(mean - half, 0.0) if nonneg else mean - half
        upper[level] = mean + half
    return Forecast(mean, lower, upper, chosen.model, chosen.periods, chosen.scores, chosen.note, chosen.members)


def candidate_periods(season: int | None, resolution_s: float | None) -> tuple[int, ...]:
    """The periods worth checking: the season's (with a week for a daily season) and the
    resolution's natural ones."""
    out: set[int] = set()
    if season:
        out.update(periods_for_season(season))
    if resolution_s:
        out.update(natural_periods(resolution_s))
    return tuple(sorted(out))


def _run_all(y: Array, h: int, periods: tuple[int, ...], season: int, names: tuple[str, ...]) -> dict[str, Array]:
    """Every candidate's forecast from the end of `y`; the baseline on the raw series with the
    given season, the others on the outlier-cleaned series with the found periods."""
    cleaned = cand.clean(y, periods or ((season,) if season > 1 else ()))
    out = {BASELINE: cand.seasonal_naive(y, h, (season,) if season > 1 else ())}
    wanted = set(names)
    for family, run in cand.FAMILIES.items():
        if not any(name.removeprefix("log_").startswith(family) for name in wanted):
            continue
        for name, f in run(cleaned, h, periods).items():
            if name in wanted and np.all(np.isfinite(f)):
                out[name] = f
    return out


def _combine(forecasts: dict[str, Array], ranking: list[str], top: int) -> dict[str, Array]:
    best = [name for name in ranking if name in forecasts][:top]
    if len(best) < 2:
        return {}
    stack = np.vstack([forecasts[name] for name in best])
    return {"median_top": np.median(stack, axis=0), "mean_top": stack.mean(axis=0)}


def forecast(
    y: Array,
    h: int,
    season: int | None = None,
    resolution_s: float | None = None,
    periods: tuple[int, ...] | None = None,
    config: Config = DEFAULT,
) -> Forecast:
    """Forecast the next `h` values of `y` (see the module docstring).

    `season` is the baseline's period (and a candidate period), `resolution_s` adds the clock's
    natural periods as candidates; `periods` skips detection. Too short a series for any backtest
    falls back to seasonal naive (naive without a full season), with a `note` saying so.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or len(y) == 0 or not np.all(np.isfinite(y)):
        raise ValueError("a series must be a non-empty 1-d array of finite numbers")
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {h}")
    m = season or 1
    if periods is None:
        known = candidate_periods(season, resolution_s)
        periods = find_periods(y, known) if known else find_periods(y)
    main = periods[0] if periods else m
    step = config.origin_step or max(1, h // 2)
    min_train = max(2 * main, 2 * m, 8)
    origins = [len(y) - h - j * step for j in range(config.origins)]
    origins = [o for o in origins if o >= min_train]
    nonneg = bool(y.min() >= 0)
    if not origins:
        f = cand.seasonal_naive(y, h, (m,)) if len(y) >= m > 1 else np.full(h, float(y[-1]))
        name = BASELINE if len(y) >= m > 1 else "naive"
        return Forecast(f, {}, {}, name, tuple(periods), note=f"history of {len(y)} too short to backtest: {name}")

    errors: dict[str, list[Array]] = {}
    for o in origins:
        past_periods = tuple(p for p in periods if o >= 2 * p) or tuple(periods[:1])
        runs = _run_all(y[:o], h, past_periods, m, config.models)
        actual = y[o : o + h]
        for name, f in runs.items():
            errors.setdefault(name, []).append((np.maximum(f, 0) if nonneg else f) - actual)
    full = [name for name, e in errors.items() if len(e) == len(origins)]
    scores = {name: float(np.mean(np.abs(np.vstack(errors[name])))) for name in full}
    ranking = sorted(scores, key=scores.__getitem__)
    if config.rank_by == "rank":
        origin_mae = np.array([[float(np.mean(np.abs(errors[n][j]))) for n in full] for j in range(len(origins))])
        ranks = origin_mae.argsort(axis=1).argsort(axis=1).mean(axis=0)
        ranking = [full[i] for i in np.argsort(ranks, kind="stable")]
    # the combinations' backtests reuse the singles' per-origin forecasts
    for j, o in enumerate(origins):
        actual = y[o : o + h]
        per_origin = {name: errors[name][j] + actual for name in ranking}
        for name, f in _combine(per_origin, ranking, config.combine_top).items():
            errors.setdefault(name, []).append(f - actual)
    for name in ("median_top", "mean_top"):
        if name in errors:
            scores[name] = float(np.mean(np.abs(np.vstack(errors[name]))))
    chosen = min(scores, key=lambda name: (scores[name], name != BASELINE))  # ties go to the baseline
    combos = [name for name in ("median_top", "mean_top") if name in scores]
    if combos and chosen not in combos:
        best_combo = min(combos, key=scores.__getitem__)
        margin = config.baseline_margin if chosen == BASELINE else config.single_margin
        if scores[chosen] > scores[best_combo] * (1 - margin) or (
            chosen == BASELINE and not _consistent(errors[BASELINE], errors[best_combo], config.baseline_consistency)
        ):
            chosen = best_combo

    combined = chosen in ("median_top", "mean_top")
    members = tuple(ranking[: config.combine_top]) if combined else ()
    final = _run_all(y, h, tuple(periods), m, members or (chosen,))
    if combined:
        final.update(_combine(final, ranking, config.combine_top))
        members = tuple(name for name in ranking if name in final)[: config.combine_top]
    mean = final.get(chosen, final[BASELINE])
    if nonneg:
        mean = np.maximum(mean, 0.0)
    lower, upper = intervals(mean, np.vstack(errors[chosen]), config.levels, nonneg)
    return Forecast(mean, lower, upper, chosen, tuple(periods), scores, members=members)


def _consistent(a: list[Array], b: list[Array], share: float) -> bool:
    """Whether errors `a` beat `b` (mean absolute error per origin) at `share` of >= 3 origins."""
    if len(a) < 3:
        return False
    wins = [float(np.mean(np.abs(x))) < float(np.mean(np.abs(y))) for x, y in zip(a, b, strict=True)]
    return sum(wins) >= share * len(wins)


def intervals(
    mean: Array, errors: Array, levels: tuple[float, ...], nonneg: bool = False
) -> tuple[dict[float, Array], dict[float, Array]]:
    """Symmetric intervals from backtest errors (origins x h): per step, the `level` quantile of
    the absolute errors pooled over neighbouring steps (± h/8), never narrower than an earlier
    step's."""
    h = len(mean)
    w = max(1, h // 8)
    cols = np.clip(np.arange(h)[:, None] + np.arange(-w, w + 1)[None, :], 0, h - 1)  # h x (2w+1)
    pooled = np.abs(errors)[:, cols].transpose(1, 0, 2).reshape(h, -1)  # per step: origins x window
    q_all = np.maximum.accumulate(np.quantile(pooled, list(levels), axis=1), axis=1)
    lower, upper = {}, {}
    for level, q in zip(levels, q_all, strict=True):
        lo = mean - q
        lower[level] = np.maximum(lo, 0.0) if nonneg else lo
        upper[level] = mean + q
    return lower, upper
