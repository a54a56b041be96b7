"""The coarse scales' tails for engines.anomaly.online: a Tail (online_tail) whose sorted window is an
array('d') slid a value at a time, the tail of -x read off that of x, and the pairwise sum that gives their top
sums in numpy's float operations."""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence

from engines.anomaly.detector import DetectorConfig
from engines.anomaly.online_tail import Block, Chain, Tail, cutoff


class ListTail(Tail):
    """A Tail whose sorted window is an array('d') slid one value at a time (insort, del): cheaper than numpy's
    slide for short windows and small blocks (the coarse scales: ~330 values, 8 a block), where numpy's per-call
    overhead, not the work, is the cost. The same values, sums (pairwise_sum) and tails. (A list of floats is
    ~1.5% faster overall and ~50 kB a series larger.)"""

    __slots__ = ()

    def __init__(self, first: int) -> None:
        super().__init__(first)
        self.sorted = array("d")

    def refresh(self, start: int, values: Block, f: int, chain: Chain, cfg: DetectorConfig) -> None:
        if self.slides(start):
            lo, hi = self.lo, self.hi
            new_lo = max(self.first, start - cfg.memory)
            w = self.sorted
            for v in values.column(f, hi, start).tolist():  # arriving first, as _slide
                insort(w, v)
            if new_lo > lo:  # each leaving value is in the window (or arrived with this block)
                for v in values.column(f, lo, new_lo).tolist():
                    del w[bisect_left(w, v)]
            self.lo, self.hi = max(lo, new_lo), start
        self.estimate(start, chain, cfg)

    def mirror(self, of: Tail, start: int, chain: Chain, cfg: DetectorConfig) -> None:
        if (self.lo, self.hi) != (of.lo, of.hi):
            self.sorted = list(map(float.__neg__, reversed(of.sorted)))
            self.lo, self.hi = of.lo, of.hi
        self.estimate(start, chain, cfg)

    def _top_sum(self, lo: int) -> float:
        return pairwise_sum(self.sorted, lo, len(self.sorted) - lo)


class ListMirror(ListTail):
    """The tail of -x from that of x, a ListTail, without a negated copy of its window: the window of -x is that of
    x reversed and negated, so its values, top sum and "already seen" shares are read off x's list (the same
    floats: negation is exact, and seen(g) counts the values of x <= -g)."""

    __slots__ = ("of",)

    def __init__(self, first: int) -> None:
        super().__init__(first)
        self.of: Tail = self  # the tail of x, from the first mirror() on

    def mirror(self, of: Tail, start: int, chain: Chain, cfg: DetectorConfig) -> None:
        w = of.sorted
        m = len(w)
        self.of, self.lo, self.hi = of, of.lo, of.hi
        if start < cfg.min_history or m < cfg.min_history:
            self.params, self.g0 = None, math.inf
            return
        k, share, drop, s0 = chain.sizes(m, cfg.tail_fraction)
        if k > m:  # tail_params' indices wrap around: as the negated list does
            self.sorted = array("d", [-v for v in reversed(w)])
            self.estimate(start, chain, cfg)
            return
        t = -w[k - 1]  # the window of -x at m - k
        med = -w[m - 1 - m // 2]
        total = pairwise_sum([-v for v in w[k - 1 :: -1]], 0, k)
        beta = max(total / k - t, 0.1 * (t - med), 1e-9 * (abs(t) + 1.0))
        self.params = (share, t, beta)
        g0 = cutoff(share, t, beta, chain, drop)
        self.g0 = g0 if s0 < 0 or g0 > -w[m - 1 - s0] else -w[m - 1 - s0]

    def seen(self, g: float) -> float:
        w = self.of.sorted
        return bisect_right(w, -g) / len(w)  # the values of -x >= g: those of x <= -g


def pairwise_sum(a: Sequence[float], lo: int, n: int) -> float:
    """The sum of a[lo : lo + n] as numpy's np.add.reduce adds a contiguous float64 array (pairwise summation:
    8 running sums over blocks of up to 128 values, halves beyond), the same float operations in the same order
    (tests/unit/engines/anomaly/test_online_tail.py checks it against numpy)."""
    if n < 8:
        total = 0.0
        for i in range(lo, lo + n):
            total = total + a[i]
        return total
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[lo : lo + 8]
        i = lo + 8
        end = lo + n - n % 8
        while i < end:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(end, lo + n):
            total += a[i]
        return total
    half = n // 2
    half -= half % 8
    return pairwise_sum(a, lo, half) + pairwise_sum(a, lo + half, n - half)
