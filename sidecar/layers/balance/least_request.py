"""Power of n choices, least request: of n random candidates, the one with the fewest calls in flight."""

from __future__ import annotations

import random
from collections.abc import Sequence

from sidecar.layers.balance.load import EndpointLoad


def sample(candidates: Sequence[EndpointLoad], n: int, rng: random.Random) -> list[EndpointLoad]:
    """`n` distinct candidates chosen uniformly (all of them when there are fewer)."""
    if len(candidates) <= n:
        return list(candidates)
    if n == 2:  # the hot path: two distinct indices without building a population
        i = rng.randrange(len(candidates))
        j = rng.randrange(len(candidates) - 1)
        return [candidates[i], candidates[j + 1 if j >= i else j]]
    return rng.sample(list(candidates), n)


class LeastRequest:
    """(in-flight + 1) / weight decides among `choices` random candidates; ties go to the first drawn."""

    __slots__ = ("choices", "rng")

    def __init__(self, rng: random.Random, choices: int = 2) -> None:
        self.rng = rng
        self.choices = choices

    def pick(self, candidates: Sequence[EndpointLoad], now: float) -> EndpointLoad | None:
        if not candidates:
            return None
        drawn = sample(candidates, self.choices, self.rng)
        return min(drawn, key=lambda c: (c.in_flight + 1) / c.weight)
