"""Reconnect delays (pure): exponential backoff with full jitter, from a seeded `random.Random`."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Attempt n waits uniform(0, min(cap, base * 2**n)) seconds ("full jitter"), at least `floor`."""

    base: float = 0.1
    cap: float = 5.0
    floor: float = 0.02
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return max(self.floor, self.rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
