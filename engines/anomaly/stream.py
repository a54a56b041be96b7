"""A per-series streaming wrapper around the detector: feed values as they arrive, get their verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.anomaly.detector import DEFAULT, DetectorConfig, detect


@dataclass
class StreamingDetector:
    """Keeps the last `history` values of one series and judges each new batch against them.

    Each `update` reruns the (vectorised) detector over the kept history plus the new values and returns the
    new rows' scores and alarms. While fewer than `history` values have arrived this equals running `detect`
    over the whole series once (the detector is online); after that, over the kept history only (older rows
    no longer count, for calibration or suppression). Cost per update is linear in `history`, so feed
    batches (e.g. one telemetry window per series).
    """

    config: DetectorConfig = DEFAULT
    history: int = 8192
    _values: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def update(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores in [0, 1] and 0/1 alarms of `values` (in arrival order)."""
        new = np.asarray(values, dtype=float)
        if len(new) == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int8)
        series = np.concatenate((self._values, new))
        found = detect(series, self.config)
        start = len(series) - len(new)
        scores = found.scores[start:]
        alarms = found.alarms[start:]
        self._values = series[-self.history :]
        return scores, alarms
