"""Score forecasts of held-out horizons the M4 way: ours, naive and seasonal naive per series."""

from __future__ import annotations

import math
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
        """Our mean MASE over seasonal naive's (1 when both are 0, inf when only seasonal naive's is)."""
        ours, base = self.mean("mase", "ours"), self.mean("mase", "snaive")
        if base == 0.0:
            return 1.0 if ours == 0.0 else float("inf")
        return ours / base


def evaluate(
    train: Mapping[str, Array],
    test: Mapping[str, Array],
    horizon: int,
    season: int,
    config: select.Config = select.DEFAULT,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Forecast each test series' first `horizon` values from its training values and score ours,
    naive and seasonal naive.

    Series are matched by id, whatever their order in the two files. A test series missing from
    the training file is an error; a training series without a test row is noted, not scored. A
    test row longer than the horizon is scored on its first `horizon` values, a shorter one on what
    it has (one note each). A series whose MASE is undefined (fewer than 2 training values, or an
    in-sample seasonal-naive error of 0, as for a constant series) is skipped with a note, so one
    such series cannot turn the means into inf or NaN.
    """
    if horizon < 1 or season < 1:
        raise EvalError(f"horizon and season must be >= 1, got {horizon} and {season}")
    missing = [sid for sid in test if sid not in train]
    if missing:
        raise EvalError(f"{len(missing)} test series missing from the training file: {_some(missing)}")
    out = Result()
    unmatched = [sid for sid in train if sid not in test]
    if unmatched:
        out.notes.append(f"{len(unmatched)} training series have no test row, not scored: {_some(unmatched)}")
    longer = [sid for sid, a in test.items() if len(a) > horizon]
    if longer:
        out.notes.append(
            f"{len(longer)} test series have more than {horizon} values, scored on their first {horizon}: "
            + _some(longer)
        )
    shorter = [sid for sid, a in test.items() if 0 < len(a) < horizon]
    if shorter:
        out.notes.append(
            f"{len(shorter)} test series have fewer than {horizon} values, scored on those: {_some(shorter)}"
        )
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
        smapes = {m: metrics.smape(actual, fc[: len(actual)]) for m, fc in runs.items()}
        mases = {m: metrics.mase(y, actual, fc[: len(actual)], season) for m, fc in runs.items()}
        if not all(math.isfinite(v) for v in (scale, *smapes.values(), *mases.values())):
            out.notes.append(f"{sid}: values too large to score (an error overflows), not scored")
            out.skipped.append(sid)
            continue
        for method in METHODS:
            out.smape[method].append(smapes[method])
            out.mase[method].append(mases[method])
        if progress:
            progress(i + 1, len(test))
    if not out.mase["ours"]:
        raise EvalError("no series could be scored")
    return out


def _some(ids: list[str], shown: int = 5) -> str:
    """The first few ids, and how many more."""
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more
