"""Success/failure counts over a rolling time window, in fixed-width buckets (sans-IO)."""

from __future__ import annotations

import math


class RollingCounts:
    """Counts of the last `window` seconds, kept in buckets `width` seconds wide."""

    __slots__ = ("_failures", "_stamps", "_successes", "buckets", "width")

    def __init__(self, window: float, width: float) -> None:
        self.width = width
        self.buckets = max(1, math.ceil(window / width - 1e-9))
        self._stamps = [-1] * self.buckets
        self._successes = [0] * self.buckets
        self._failures = [0] * self.buckets

    def _slot(self, now: float) -> int:
        index = math.floor(now / self.width)
        slot = index % self.buckets
        if self._stamps[slot] != index:
            self._stamps[slot] = index
            self._successes[slot] = 0
            self._failures[slot] = 0
        return slot

    def add(self, ok: bool, now: float) -> None:
        slot = self._slot(now)
        if ok:
            self._successes[slot] += 1
        else:
            self._failures[slot] += 1

    def totals(self, now: float) -> tuple[int, int]:
        """(successes, failures) in the buckets covering the last window up to `now`."""
        newest = math.floor(now / self.width)
        oldest = newest - self.buckets + 1
        ok = bad = 0
        for slot, stamp in enumerate(self._stamps):
            if oldest <= stamp <= newest:
                ok += self._successes[slot]
                bad += self._failures[slot]
        return ok, bad

    def clear(self) -> None:
        self._stamps = [-1] * self.buckets
