"""The one backoff (apex.mesh.contract.backoff): full jitter under the exponential ceiling and the cap."""

from __future__ import annotations

import random

from apex.mesh.contract.backoff import Backoff, full_jitter


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


def test_defaults_are_the_reconnect_loops_base_cap_and_floor() -> None:
    rng = random.Random(5)
    samples = [[full_jitter(n, 0.1, 5.0, rng, 0.02) for _ in range(200)] for n in range(12)]
    assert all(0.02 <= s <= 0.1 for s in samples[0])
    assert all(0.02 <= s <= 5.0 for row in samples for s in row)
    assert max(samples[11]) > 1.0 and len(set(samples[11])) > 100  # spread, not one fixed delay
    d = Backoff()
    assert (d.base, d.cap, d.floor) == (0.1, 5.0, 0.02)


def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap() -> None:
    """Retry r of a route waits full_jitter(r - 1, backoff_base, backoff_max): mean about half the ceiling."""
    rng = random.Random(1)
    for n in range(11):
        ceiling = min(0.5, 0.01 * 2**n)
        samples = [full_jitter(n, 0.01, 0.5, rng) for _ in range(500)]
        assert all(0.0 <= s <= ceiling for s in samples)
        mean = sum(samples) / len(samples)
        assert 0.4 * ceiling < mean < 0.6 * ceiling
        assert max(samples) > 0.9 * ceiling


def test_huge_attempt_numbers_stay_finite() -> None:
    assert 0.0 <= full_jitter(10**9, 0.1, 5.0, random.Random(0)) <= 5.0
    assert 0.0 <= full_jitter(-3, 0.1, 5.0, random.Random(0)) <= 0.1
