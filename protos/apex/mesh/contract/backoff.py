"""The one retry/reconnect delay (pure): exponential backoff with full jitter from a seeded `random.Random`.

Try n (0 for the first wait) waits uniform(0, min(cap, base * 2^n)) seconds, at least `floor`
("full jitter", AWS Architecture Blog): spread out so that many clients never synchronise.
Callers keep their own base and cap: the control client reconnects and the telemetry publisher
resends from 0.1 s up to 5 s (`Backoff`'s defaults, with a 20 ms floor), a route's retries use the policy's
backoff_base/backoff_max (retry number r waits with n = r - 1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_DOUBLINGS = 62  # beyond this base * 2^n is past any cap; keeps the float finite


def full_jitter(n: int, base: float, cap: float, rng: random.Random, floor: float = 0.0) -> float:
    """Seconds to wait before try `n` (0-based)."""
    ceiling = min(cap, base * 2.0 ** min(max(n, 0), MAX_DOUBLINGS))
    return max(floor, rng.uniform(0.0, ceiling))


@dataclass
class Backoff:
    """Successive waits of one reconnect loop: `next()` grows the exponent, `reset()` after a success."""

    base: float = 0.1
    cap: float = 5.0
    floor: float = 0.02  # never a zero wait: a failing loop must not spin
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next(self) -> float:
        delay = full_jitter(self.attempt, self.base, self.cap, self.rng, self.floor)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
