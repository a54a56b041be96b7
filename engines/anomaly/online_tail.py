"""Streamed tail calibration for engines.anomaly.online: each feature's calibrate.tail_probability kept
block by block (the sorted window, its tail parameters) and the cutoff below which a value cannot bring
a row's probability under 1; the features' recent values, gathered per block."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left

import numpy as np

from engines.anomaly import calibrate
from engines.anomaly.detector import DetectorConfig


class Tail:
    """One feature's calibrate.tail_probability, block by block: the sorted window and the tail it gives."""

    __slots__ = ("first", "g0", "hi", "lo", "params", "sorted", "window")

    def __init__(self, first: int) -> None:
        self.first = first  # the feature's first defined row (-1: never)
        self.lo = self.hi = first  # the window holds rows lo..hi-1
        self.sorted = array("d")  # the window's values, sorted
        self.window = np.frombuffer(self.sorted)
        self.params: tuple[float, float, float] | None = None  # share, t, beta
        self.g0 = math.inf  # values up to this have q·n >= 1 or seen·n >= 1 (n features): they cannot make a
        # row's probability < 1

    def refresh(self, start: int, values: Block, f: int, n: int, cfg: DetectorConfig) -> None:
        """What tail_probability does at the start of a block: slide the window, re-estimate the tail."""
        if 0 <= self.first < start and start > self.hi:
            new_lo = max(self.first, start - cfg.memory)
            leaving = values.column(f, self.lo, new_lo) if new_lo > self.lo else None
            window = calibrate._slide(self.window, leaving, values.column(f, self.hi, start))
            # Kept as an array('d'), which bisect searches faster than numpy a value at a time, and seen
            # by numpy through a view of the same memory.
            self.sorted = array("d")
            self.sorted.frombytes(window.tobytes())
            self.window = np.frombuffer(self.sorted)
            self.lo, self.hi = max(self.lo, new_lo), start
        self._estimate(start, n, cfg)

    def mirror(self, of: Tail, start: int, n: int, cfg: DetectorConfig) -> None:
        """refresh() for the feature -x from the tail of x, refreshed first: its window reversed and negated
        (the same values as sliding the window of -x, up to the order of 0.0 and -0.0)."""
        if (self.lo, self.hi) != (of.lo, of.hi):
            self.sorted = array("d")
            self.sorted.frombytes(np.negative(of.window[::-1]).tobytes())
            self.window = np.frombuffer(self.sorted)
            self.lo, self.hi = of.lo, of.hi
        self._estimate(start, n, cfg)

    def _estimate(self, start: int, n: int, cfg: DetectorConfig) -> None:
        m = len(self.window)
        if start < cfg.min_history or m < cfg.min_history:
            self.params, self.g0 = None, math.inf
        else:
            self.params = share, t, beta = calibrate.tail_params(self.window, cfg.tail_fraction)
            # A row's feature probability is max(q, seen): either keeping it >= 1/n is enough.
            self.g0 = max(cutoff(share, t, beta, n), seen_cutoff(self.window, n))

    def seen(self, g: float) -> float:
        """The share of the window's values >= g."""
        m = len(self.sorted)
        return (m - bisect_left(self.sorted, g)) / m


def tail_q(g: float, share: float, t: float, beta: float) -> float:
    """min(1, share·exp(min(700, -(g - t)/beta))) in the same float operations as tail_probability."""
    e = -(g - t) / beta
    v = share * math.exp(e if e < 700.0 else 700.0)
    return v if v < 1.0 else 1.0


def seen_cutoff(window: np.ndarray, n: int) -> float:
    """A value s0 of the sorted window with seen(g)·n >= 1 as computed for every g <= s0: at most j values
    lie below such a g, so seen(g) = (m - searchsorted(g)) / m >= (m - j) / m."""
    m = len(window)
    j = m - (m + n - 1) // n
    while j + 1 < m and (m - j - 1) / m * n >= 1.0:
        j += 1
    while j >= 0 and (m - j) / m * n < 1.0:
        j -= 1
    return float(window[j]) if j >= 0 else -math.inf


def cutoff(share: float, t: float, beta: float, n: int) -> float:
    """A value g0 with tail_q(g0)·n >= 1 as computed, near the largest: tail_q only falls as g grows, so no value
    up to g0 can bring a row's probability (n times its features' smallest) below 1."""
    g0 = t - max(0.0, math.log(1.0 / (n * share))) * beta
    step = beta * 1e-6 + abs(t) * 1e-12
    for _ in range(64):
        if tail_q(g0, share, t, beta) * n >= 1.0:
            return g0
        g0 -= step
        step *= 2
    return -math.inf


class Block:
    """The features' values of the last `keep` rows and more, one row per pushed row, a column per feature.

    Rows are gathered in a list and moved into a numpy array once per block, when the tails need them.
    """

    __slots__ = ("base", "buf", "keep", "pending", "pos")

    def __init__(self, keep: int, features: int, slack: int) -> None:
        self.keep = keep
        self.buf = np.empty((keep + slack, features))  # compacted to its last `keep` rows when full
        self.base = 0  # the row of buf[0]
        self.pos = 0  # rows in buf
        self.pending: list[list[float]] = []  # rows pushed since, not in buf yet (always this list)

    def flush(self) -> None:
        rows = self.pending
        if not rows:
            return
        if self.pos + len(rows) > len(self.buf):
            k = min(self.keep, self.pos)
            self.buf[:k] = self.buf[self.pos - k : self.pos]
            self.base += self.pos - k
            self.pos = k
        self.buf[self.pos : self.pos + len(rows)] = rows
        self.pos += len(rows)
        rows.clear()

    def column(self, f: int, lo: int, hi: int) -> np.ndarray:
        """Feature f on rows lo..hi-1 (flushed and kept)."""
        return self.buf[lo - self.base : hi - self.base, f]
