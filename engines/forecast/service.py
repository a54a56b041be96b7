"""Forecasts for many live series (one per service and metric), sans-IO: the caller passes each
series' recent values and `now`; the model is re-selected by backtests at most every
`reselect_every` seconds per series and refitted on every call in between."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from engines.forecast import select
from engines.forecast.periods import find_periods

Array = NDArray[np.float64]


@dataclass(slots=True)
class SeriesForecaster:
    horizon: int
    resolution_s: float  # seconds per point: its natural periods (minute, hour, day, week) are candidates
    season: int | None = None  # the seasonal-naive baseline's period (default: the first period found)
    reselect_every: float = 600.0
    config: select.Config = select.DEFAULT
    _chosen: dict[str, tuple[float, select.Forecast]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.horizon < 1 or self.resolution_s <= 0 or self.reselect_every < 0:
            raise ValueError("horizon >= 1, resolution_s > 0 and reselect_every >= 0 are required")

    def forecast(self, key: str, values: Array, now: float) -> select.Forecast:
        """The next `horizon` values of series `key` (oldest value first in `values`)."""
        y = np.asarray(values, dtype=np.float64)
        last = self._chosen.get(key)
        if last is not None and now - last[0] < self.reselect_every and not last[1].note:
            return select.refit(y, self.horizon, last[1], self._season(last[1]))
        season = self.season
        if season is None:
            found = find_periods(y, select.candidate_periods(None, self.resolution_s))
            season = found[0] if found else None
        f = select.forecast(y, self.horizon, season=season, resolution_s=self.resolution_s, config=self.config)
        self._chosen[key] = (now, f)
        return f

    def forget(self, key: str) -> None:
        self._chosen.pop(key, None)

    def _season(self, f: select.Forecast) -> int | None:
        return self.season or (f.periods[0] if f.periods else None)
