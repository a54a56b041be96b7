"""A per-series streaming wrapper around the detector: feed values as they arrive, get their verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.anomaly.detector import DEFAULT, DetectorConfig
from engines.anomaly.online import OnlineDetector


@dataclass
class StreamingDetector:
    """One series' detector fed batches (or single values) in arrival order.

    Each value goes through `OnlineDetector` (engines.anomaly.online): O(1) amortised work per value and
    memory bounded by the configuration, and the outputs are those of `detect` over the whole series so far
    (the detector is online), however the values are split into batches.
    """

    config: DetectorConfig = DEFAULT
    _online: OnlineDetector | None = field(default=None, repr=False)

    def update(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores in [0, 1] and 0/1 alarms of `values` (in arrival order)."""
        if self._online is None:
            self._online = OnlineDetector(self.config)
        push = self._online.push
        out = [push(v) for v in np.asarray(values, dtype=float).ravel().tolist()]
        scores = np.array([s for s, _, _ in out], dtype=float)
        alarms = np.array([a for _, _, a in out], dtype=np.int8)
        return scores, alarms
