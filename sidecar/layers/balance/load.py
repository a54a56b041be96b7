"""Per-endpoint load that balancers read: in-flight calls and a peak-EWMA latency estimate."""

from __future__ import annotations

import math


class PeakEwma:
    """Peak-sensitive EWMA of latency (Finagle's PeakEwma, tower-balance's RttEstimate).

    A sample above the estimate replaces it at once (peak); a lower one is blended in with
    weight 1 - exp(-elapsed / decay). Reading the estimate decays it toward 0 with the time
    since the last update, so an endpoint that stopped being picked is tried again later.
    """

    __slots__ = ("decay", "estimate", "updated")

    def __init__(self, default_rtt: float, decay: float, now: float) -> None:
        self.estimate = default_rtt
        self.decay = decay
        self.updated = now

    def observe(self, rtt: float, now: float) -> float:
        """Fold in one latency sample (seconds) measured at `now`; return the new estimate."""
        elapsed = max(now - self.updated, 0.0)
        self.updated = max(now, self.updated)
        if rtt > self.estimate:
            self.estimate = rtt
        else:
            weight = math.exp(-elapsed / self.decay)
            self.estimate = self.estimate * weight + rtt * (1.0 - weight)
        return self.estimate

    def current(self, now: float) -> float:
        """The estimate decayed toward 0 for the time since the last update (a zero sample)."""
        return self.observe(0.0, now)


class EndpointLoad:
    """What the balancers know about one endpoint: its weight, in-flight count and latency."""

    __slots__ = ("address", "ewma", "in_flight", "weight")

    def __init__(self, address: str, weight: int, ewma: PeakEwma) -> None:
        self.address = address
        self.weight = weight
        self.in_flight = 0
        self.ewma = ewma

    def cost(self, now: float) -> float:
        """peak-EWMA latency x (in-flight + 1), per unit of weight."""
        return self.ewma.current(now) * (self.in_flight + 1) / self.weight
