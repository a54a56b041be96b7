"""Peak-EWMA balancing: power of two choices on cost = peak-EWMA latency x (in-flight + 1).

The Finagle / Linkerd algorithm: a slow or overloaded endpoint's cost rises at once (peak
sensitivity) and it stops being picked; its estimate decays while it is idle, so it is
tried again and readmitted when it has recovered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sidecar.layers.balance.least_request import sample
from sidecar.layers.balance.load import EndpointLoad


class PeakEwmaBalancer:
    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, candidates: Sequence[EndpointLoad], now: float) -> EndpointLoad | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        a, b = sample(candidates, 2, self.rng)
        return a if a.cost(now) <= b.cost(now) else b
