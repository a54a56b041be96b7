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
        self.window = np.empty(0)  # the window's values, sorted
        self.sorted = self.window.data  # the same memory, for bisect
        self.params: tuple[float, float, float] | None = None  # share, t, beta
        self.g0 = math.inf  # values up to this have q or seen spent (Chain.spent): they cannot make the
        # detector's probability < 1

    def refresh(self, start: int, values: Block, f: int, chain: Chain, cfg: DetectorConfig) -> None:
        """What tail_probability does at the start of a block: slide the window, re-estimate the tail."""
        if 0 <= self.first < start and start > self.hi:
            new_lo = max(self.first, start - cfg.memory)
            leaving = values.column(f, self.lo, new_lo) if new_lo > self.lo else None
            window = calibrate._slide(self.window, leaving, values.column(f, self.hi, start))
            # Searched by bisect through a memoryview (a Python float per item, faster than numpy a value at
            # a time), without a copy.
            self.window = window
            self.sorted = window.data
            self.lo, self.hi = max(self.lo, new_lo), start
        self._estimate(start, chain, cfg)

    def mirror(self, of: Tail, start: int, chain: Chain, cfg: DetectorConfig) -> None:
        """refresh() for the feature -x from the tail of x, refreshed first: its window reversed and negated
        (the same values as sliding the window of -x, up to the order of 0.0 and -0.0)."""
        if (self.lo, self.hi) != (of.lo, of.hi):
            self.window = np.negative(of.window[::-1])
            self.sorted = self.window.data
            self.lo, self.hi = of.lo, of.hi
        self._estimate(start, chain, cfg)

    def _estimate(self, start: int, chain: Chain, cfg: DetectorConfig) -> None:
        m = len(self.window)
        if start < cfg.min_history or m < cfg.min_history:
            self.params, self.g0 = None, math.inf
        else:
            self.params = share, t, beta = calibrate.tail_params(self.window, cfg.tail_fraction)
            # A row's feature probability is max(q, seen): either keeping the chain >= 1 is enough.
            self.g0 = max(cutoff(share, t, beta, chain), seen_cutoff(self.window, chain))

    def seen(self, g: float) -> float:
        """The share of the window's values >= g."""
        m = len(self.sorted)
        return (m - bisect_left(self.sorted, g)) / m


def tail_q(g: float, share: float, t: float, beta: float) -> float:
    """min(1, share·exp(min(700, -(g - t)/beta))) in the same float operations as tail_probability."""
    e = -(g - t) / beta
    v = share * math.exp(e if e < 700.0 else 700.0)
    return v if v < 1.0 else 1.0


class Chain:
    """How a feature's probability v reaches the detector's: a level gives min(1, n·best) over its n features,
    a coarse scale min(1, scale·that), and the detector min(1, levels·the smallest over its levels)."""

    __slots__ = ("levels", "n", "scale")

    def __init__(self, n: int, scale: int, levels: int) -> None:
        self.n, self.scale, self.levels = n, scale, levels

    def spent(self, v: float) -> bool:
        """Whether v, as the level's smallest, leaves the detector's probability at 1 whatever the other levels
        give (in the same float operations as the detector: monotone in v)."""
        return self.levels * min(1.0, self.scale * min(1.0, v * self.n)) >= 1.0


def seen_cutoff(window: np.ndarray, chain: Chain) -> float:
    """A value s0 of the sorted window with chain.spent(seen(g)) as computed for every g <= s0: at most j values
    lie below such a g, so seen(g) = (m - searchsorted(g)) / m >= (m - j) / m."""
    m = len(window)
    n = chain.n * chain.scale * chain.levels
    j = m - (m + n - 1) // n
    while j + 1 < m and chain.spent((m - j - 1) / m):
        j += 1
    while j >= 0 and not chain.spent((m - j) / m):
        j -= 1
    return float(window[j]) if j >= 0 else -math.inf


def cutoff(share: float, t: float, beta: float, chain: Chain) -> float:
    """A value g0 with chain.spent(tail_q(g0)) as computed, near the largest: tail_q only falls as g grows, so no
    value up to g0 can bring the detector's probability below 1."""
    g0 = t - max(0.0, math.log(1.0 / (chain.n * chain.scale * chain.levels * share))) * beta
    step = beta * 1e-6 + abs(t) * 1e-12
    for _ in range(64):
        if chain.spent(tail_q(g0, share, t, beta)):
            return g0
        g0 -= step
        step *= 2
    return -math.inf


class Block:
    """The features' values of the last `keep` rows and more, one row per pushed row, a column per feature.

    Rows are gathered flat in an array('d') (a row's values one after the other) and moved into a numpy
    array once per block, when the tails need them.
    """

    __slots__ = ("base", "buf", "features", "keep", "pending", "pos")

    def __init__(self, keep: int, features: int, slack: int) -> None:
        self.keep = keep
        self.features = features
        self.buf = np.empty((keep + slack, features))  # compacted to its last `keep` rows when full
        self.base = 0  # the row of buf[0]
        self.pos = 0  # rows in buf
        self.pending = array("d")  # rows pushed since, not in buf yet, flat (always this array)

    def flush(self) -> None:
        rows = self.pending
        k = len(rows) // self.features
        if not k:
            return
        if self.pos + k > len(self.buf):
            keep = min(self.keep, self.pos)
            self.buf[:keep] = self.buf[self.pos - keep : self.pos]
            self.base += self.pos - keep
            self.pos = keep
        self.buf[self.pos : self.pos + k] = np.frombuffer(rows).reshape(k, self.features)  # the view is let go
        self.pos += k
        del rows[:]

    def column(self, f: int, lo: int, hi: int) -> np.ndarray:
        """Feature f on rows lo..hi-1 (flushed and kept)."""
        return self.buf[lo - self.base : hi - self.base, f]
