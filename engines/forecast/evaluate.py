"""Score forecasts of held-out horizons the M4 way: ours, naive and seasonal naive per series."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engines.forecast import metrics, select

Array = NDArray[np.float64]
METHODS = ("ours", "naive", "snaive")


class EvalError(ValueError):
    """Train and test sets that do not fit together (the message names the series)."""


@dataclass(slots=True)
class Result:
    smape: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METHODS})
    mase: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METHODS})
    forecasts: dict[str, Array] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)  # series id -> chosen model
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def mean(self, metric: str, method: str) -> float:
        values = np.asarray((self.smape if metric == "smape" else self.mase)[method])
        return float(values.mean()) if len(values) else float("nan")

    @property
    def mase_ratio(self) -> float:
        return self.mean("mase", "ours") / self.mean("mase", "snaive")


def evaluate(
    train: Mapping[str, Array],
    test: Mapping[str, Array],
    horizon: int,
    season: int,
    config: select.Config = select.DEFAULT,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Forecast each test series' first `horizon` values from its training values and score ours,
    naive and seasonal naive. A test series shorter than the horizon is scored on what it has;
    series whose MASE is undefined (constant in-sample seasonal differences) are skipped, noted."""
    if horizon < 1 or season < 1:
        raise EvalError(f"horizon and season must be >= 1, got {horizon} and {season}")
    missing = [sid for sid in test if sid not in train]
    if missing:
        raise EvalError(f"{len(missing)} test series missing from the training file: {', '.join(missing[:5])}")
    out = Result()
    for i, (sid, actual_all) in enumerate(test.items()):
        y = train[sid]
        actual = actual_all[:horizon]
        if len(actual) == 0:
            out.notes.append(f"{sid}: no test values, skipped")
            out.skipped.append(sid)
            continue
        if len(y) < 2:
            out.notes.append(f"{sid}: {len(y)} training value(s): too short for MASE, skipped")
            out.skipped.append(sid)
            continue
        f = select.forecast(y, horizon, season=season, config=config)
        if f.note:
            out.notes.append(f"{sid}: {f.note}")
        out.forecasts[sid] = f.mean
        out.models[sid] = f.model
        scale = metrics.mase_scale(y, season)
        if scale == 0.0:
            out.notes.append(f"{sid}: in-sample seasonal-naive error is 0, MASE undefined: not scored")
            out.skipped.append(sid)
            continue
        runs = {
            "ours": f.mean,
            "naive": metrics.naive(y, horizon),
            "snaive": metrics.seasonal_naive(y, horizon, season),
        }
        for method, forecast in runs.items():
            out.smape[method].append(metrics.smape(actual, forecast[: len(actual)]))
            out.mase[method].append(metrics.mase(y, actual, forecast[: len(actual)], season))
        if progress:
            progress(i + 1, len(test))
    if not out.mase["ours"]:
        raise EvalError("no series could be scored")
    return out
