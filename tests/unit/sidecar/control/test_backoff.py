"""Reconnect backoff with full jitter."""

from __future__ import annotations

import random

from sidecar.control.backoff import Backoff


def test_delays_grow_up_to_the_cap_with_jitter_and_reset() -> None:
    backoff = Backoff(base=0.1, cap=2.0, floor=0.01, rng=random.Random(7))
    delays = [backoff.next() for _ in range(12)]
    ceilings = [min(2.0, 0.1 * 2**n) for n in range(12)]
    assert all(0.01 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed ladder
    assert max(delays[6:]) > 0.5  # the ceiling has grown
    backoff.reset()
    assert backoff.next() <= 0.1


def test_the_same_seed_gives_the_same_delays() -> None:
    a = Backoff(rng=random.Random(3))
    b = Backoff(rng=random.Random(3))
    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]
