"""Rolling-origin backtest of the model choice itself: select and forecast from several origins
inside a series' history, and score each against what followed (ours vs seasonal naive)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engines.forecast import metrics, select, wide_csv

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Fold:
    origin: int  # training values before this index
    model: str
    periods: tuple[int, ...]
    mase_ours: float
    mase_snaive: float
    covered: float  # share of the actual values inside the widest interval


@dataclass(frozen=True, slots=True)
class Report:
    series: str
    length: int
    folds: tuple[Fold, ...]

    @property
    def ratio(self) -> float:
        ours = np.mean([f.mase_ours for f in self.folds])
        base = np.mean([f.mase_snaive for f in self.folds])
        return float(ours / base) if base > 0 else float("nan")


def backtest(
    sid: str,
    y: Array,
    horizon: int,
    season: int,
    origins: int = 3,
    step: int | None = None,
    resolution_s: float | None = None,
    config: select.Config = select.DEFAULT,
) -> Report:
    """Forecast `horizon` values from `origins` origins `step` apart (default: the horizon), the
    last one `horizon` before the end; origins with fewer than two seasons of history are left out."""
    step = step or horizon
    folds = []
    for j in reversed(range(origins)):
        o = len(y) - horizon - j * step
        if o < max(2 * season, 3):
            continue
        train, actual = y[:o], y[o : o + horizon]
        f = select.forecast(train, horizon, season=season, resolution_s=resolution_s, config=config)
        snaive = metrics.seasonal_naive(train, horizon, season)
        scale = metrics.mase_scale(train, season)
        if scale == 0.0:
            continue
        widest = max(f.lower, default=None)
        covered = float(np.mean((actual >= f.lower[widest]) & (actual <= f.upper[widest]))) if widest else float("nan")
        ours, base = metrics.mase(train, actual, f.mean, season), metrics.mase(train, actual, snaive, season)
        folds.append(Fold(o, f.model, f.periods, ours, base, covered))
    return Report(sid, len(y), tuple(folds))


def read_series_file(path: str | Path) -> tuple[dict[str, Array], float | None]:
    """Series from a wide CSV (M4 layout), or one series from a `timestamp,value` CSV (NAB layout,
    its resolution the median timestamp step in seconds)."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except FileNotFoundError:
        raise wide_csv.SeriesFileError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise wide_csv.SeriesFileError(f"{p}: cannot read: {exc}") from None
    if [c.strip().lower() for c in header[:2]] != ["timestamp", "value"]:
        return wide_csv.read(p), None
    stamps, values = [], []
    with p.open(newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                stamps.append(datetime.fromisoformat(row["timestamp"].strip()).timestamp())
                values.append(float(row["value"]))
            except (ValueError, AttributeError, TypeError):
                raise wide_csv.SeriesFileError(f"{p}:{line}: expected an ISO timestamp and a number") from None
    if len(values) < 3:
        raise wide_csv.SeriesFileError(f"{p}: {len(values)} rows: too short to backtest")
    resolution = float(np.median(np.diff(stamps)))
    return {p.stem: np.asarray(values, dtype=np.float64)}, resolution if resolution > 0 else None
