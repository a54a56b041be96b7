"""Streamed tail calibration for engines.anomaly.online: each feature's calibrate.tail_probability kept
block by block (the sorted window, its tail parameters) and the cutoff below which a value cannot bring
a row's probability under 1; the features' recent values, gathered per block. The coarse scales' tails, slid
a value at a time, are in online_list_tail."""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from typing import Any

import numpy as np

from engines.anomaly import calibrate
from engines.anomaly.detector import DetectorConfig


class Tail:
    """One feature's calibrate.tail_probability, block by block: the sorted window and the tail it gives."""

    __slots__ = ("first", "g0", "hi", "lo", "params", "row", "sorted", "stack", "window")

    def __init__(self, first: int) -> None:
        self.first = first  # the feature's first defined row (-1: never)
        self.lo = self.hi = first  # the window holds rows lo..hi-1
        self.window = np.empty(0)  # the window's values, sorted
        # The same memory, for bisect (a Python float per item, no copy); an array('d') in ListTail.
        self.sorted: Any = self.window.data
        self.stack: np.ndarray | None = None  # the 2-d array whose row `row` the window is (TailGroup)
        self.row = 0
        self.params: tuple[float, float, float] | None = None  # share, t, beta
        self.g0 = math.inf  # values up to this have q or seen spent (Chain.spent): they cannot make the
        # detector's probability < 1

    def slides(self, start: int) -> bool:
        """Whether the window moves at block `start` (the feature is defined before it, rows arrived since)."""
        return 0 <= self.first < start and start > self.hi

    def refresh(self, start: int, values: Block, f: int, chain: Chain, cfg: DetectorConfig) -> None:
        """What tail_probability does at the start of a block: slide the window, re-estimate the tail."""
        if self.slides(start):
            new_lo = max(self.first, start - cfg.memory)
            leaving = values.column(f, self.lo, new_lo) if new_lo > self.lo else None
            self._set(calibrate._slide(self.window, leaving, values.column(f, self.hi, start)))
            self.lo, self.hi = max(self.lo, new_lo), start
        self.estimate(start, chain, cfg)

    def mirror(self, of: Tail, start: int, chain: Chain, cfg: DetectorConfig) -> None:
        """refresh() for the feature -x from the tail of x, refreshed first: its window reversed and negated
        (the same values as sliding the window of -x, up to the order of 0.0 and -0.0)."""
        if (self.lo, self.hi) != (of.lo, of.hi):
            self._set(np.negative(of.window[::-1]))
            self.lo, self.hi = of.lo, of.hi
        self.estimate(start, chain, cfg)

    def _set(self, window: np.ndarray, stack: np.ndarray | None = None, row: int = 0) -> None:
        self.window = window
        self.sorted = window.data
        self.stack, self.row = stack, row

    def estimate(self, start: int, chain: Chain, cfg: DetectorConfig, total: float | None = None) -> None:
        """The tail's parameters (calibrate.tail_params, in the same float operations) and the cutoff, from the
        window; `total`, if given, is the sum of its top k values as tail_params adds them."""
        v = self.sorted
        m = len(v)
        if start < cfg.min_history or m < cfg.min_history:
            self.params, self.g0 = None, math.inf
            return
        k, share, drop, s0 = chain.sizes(m, cfg.tail_fraction)
        t = v[m - k]
        med = v[m // 2]
        if total is None:
            total = self._top_sum(m - k)
        beta = max(total / k - t, 0.1 * (t - med), 1e-9 * (abs(t) + 1.0))
        self.params = (share, t, beta)
        # A row's feature probability is max(q, seen): either keeping the chain spent is enough.
        g0 = cutoff(share, t, beta, chain, drop)
        self.g0 = g0 if s0 < 0 or g0 > v[s0] else v[s0]

    def _top_sum(self, lo: int) -> float:
        """The sum of the window's values from index lo on, as np.add.reduce adds them."""
        return float(np.add.reduce(self.window[lo:]))

    def seen(self, g: float) -> float:
        """The share of the window's values >= g."""
        m = len(self.sorted)
        return (m - bisect_left(self.sorted, g)) / m

    def least(self, g: float, best: float) -> float:
        """min(best, max(q, seen)) for a value g (tail_q inline: the same float operations), seen looked up
        only when q is below best."""
        pr = self.params
        if pr is None:
            q = 1.0
        else:
            share, t, beta = pr
            e = -(g - t) / beta
            q = share * math.exp(e if e < 700.0 else 700.0)
            if q >= 1.0:
                q = 1.0
        if q >= best:
            return best
        seen = self.seen(g)
        q = q if q > seen else seen
        return q if q < best else best


class TailGroup:
    """Tail.refresh of several features at once, once their windows cover the same rows (after the first
    `memory` rows past their first): one 2-d numpy slide (each row the values of one window, the same multiset as
    _slide gives) and the tails' sums in one row-wise reduction. (Its arrays are made per call: keeping them
    between blocks saved no measurable time and cost ~150 kB a series.)
    """

    __slots__ = ("back", "cols", "shape", "steps", "tails")

    def __init__(self, tails: list[Tail], cols: list[int]) -> None:
        self.tails = tails
        self.cols = cols  # each tail's column in the Block
        # For the leaving values' positions, by (leaving values a row, merged row width): 0..n-1, and that plus
        # each row's offset in the flattened merged array.
        self.shape = (0, 0)
        self.steps: np.ndarray = np.empty(0, dtype=np.intp)
        self.back: np.ndarray = np.empty((0, 0), dtype=np.intp)

    def _together(self, start: int, cfg: DetectorConfig) -> tuple[int, int, int] | None:
        """(lo, hi, new lo) of the windows when all the tails slide at block `start` over the same rows, all
        defined from before the new window's first row; None otherwise."""
        first = self.tails[0]
        lo, hi = first.lo, first.hi
        new_lo = start - cfg.memory
        for tail in self.tails:
            if not tail.slides(start) or tail.lo != lo or tail.hi != hi or tail.first > new_lo:
                return None
        return lo, hi, new_lo

    def refresh(self, start: int, values: Block, chain: Chain, cfg: DetectorConfig) -> bool:
        """The tails' refresh at block `start`; False (nothing done) while their windows differ."""
        span = self._together(start, cfg)
        if span is None:
            return False
        lo, hi, new_lo = span
        tails = self.tails
        first = tails[0]
        f = len(tails)
        rows = values.rows(lo, start)  # rows lo..start-1, a column per feature
        if f < rows.shape[1]:
            rows = rows[:, self.cols]
        # The windows are still the rows of the last call's array unless a tail was refreshed on its own since (all
        # are then: Tail.refresh drops the array).
        stack = first.stack
        if stack is None or stack.shape[0] != f or tails[-1].stack is not stack:
            stack = np.stack([tail.window for tail in tails])
        merged = np.concatenate((stack, rows[hi - lo :].T), axis=1)
        merged.sort(axis=1, kind="stable")
        width = merged.shape[1]
        if new_lo > lo:
            leaving = np.sort(rows[: new_lo - lo].T, axis=1)
            n = leaving.shape[1]
            at = np.empty((f, n), dtype=np.intp)
            for into, row, values_left in zip(at, merged, leaving, strict=True):
                into[:] = row.searchsorted(values_left, side="left")
            # The j-th copy of a repeated value goes at the j-th position of its run, as _slide: each position at
            # least one past the previous one (all the copies are in the row, so a larger value's run starts after).
            if self.shape != (n, width):  # the same from the first full windows on
                self.shape = (n, width)
                self.steps = np.arange(n)
                self.back = self.steps + (np.arange(f) * width)[:, None]  # and each row's offset in merged.ravel()
            at -= self.steps
            np.maximum.accumulate(at, axis=1, out=at)
            at += self.back
            keep = np.ones(merged.size, dtype=bool)
            keep[at.ravel()] = False
            stack = merged.ravel()[keep].reshape(f, width - n)
        else:
            stack = merged
        m = stack.shape[1]
        k = max(calibrate.MIN_TAIL, int(cfg.tail_fraction * m))
        totals = np.add.reduce(stack[:, m - k :], axis=1).tolist()  # row by row, as the 1-d sum of tail_params
        for r, tail in enumerate(tails):
            tail._set(stack[r], stack, r)
            tail.lo, tail.hi = max(lo, new_lo), start
            tail.estimate(start, chain, cfg, totals[r])
        return True

    def refresh_lists(self, start: int, values: Block, chain: Chain, cfg: DetectorConfig) -> bool:
        """The refresh of ListTails (ListTail.refresh, the same insertions and deletions in the same order), the
        block's arriving and leaving rows turned into floats once for all of them; False (nothing done) while their
        windows differ."""
        span = self._together(start, cfg)
        if span is None:
            return False
        lo, hi, new_lo = span
        tails = self.tails
        arriving = values.rows(hi, start).tolist()
        leaving = values.rows(lo, new_lo).tolist() if new_lo > lo else []
        lo = max(lo, new_lo)
        for tail, f in zip(tails, self.cols, strict=True):
            w = tail.sorted
            for row in arriving:  # arriving first, as _slide
                insort(w, row[f])
            for row in leaving:  # each leaving value is in the window (or arrived with this block)
                del w[bisect_left(w, row[f])]
            tail.lo, tail.hi = lo, start
            tail.estimate(start, chain, cfg)
        return True


def tail_q(g: float, share: float, t: float, beta: float) -> float:
    """min(1, share·exp(min(700, -(g - t)/beta))) in the same float operations as tail_probability."""
    e = -(g - t) / beta
    v = share * math.exp(e if e < 700.0 else 700.0)
    return v if v < 1.0 else 1.0


class Chain:
    """How a feature's probability v reaches the detector's: a level gives min(1, n·best) over its n features,
    a coarse scale min(1, scale·that), and the detector min(1, levels·the smallest over its levels)."""

    __slots__ = ("levels", "n", "scale", "sized")

    def __init__(self, n: int, scale: int, levels: int) -> None:
        self.n, self.scale, self.levels = n, scale, levels
        self.sized: dict[int, tuple[int, float, float, int]] = {}  # sizes() by window size (one tail_fraction)

    def spent(self, v: float) -> bool:
        """Whether v, as the level's smallest, leaves the detector's probability at 1 whatever the other levels
        give (in the same float operations as the detector: monotone in v)."""
        return self.levels * min(1.0, self.scale * min(1.0, v * self.n)) >= 1.0

    def sizes(self, m: int, tail_fraction: float) -> tuple[int, float, float, int]:
        """For a window of m values: tail_params' k and share k/m; how many mean excesses below the threshold
        the tail estimate falls to 1/(n·scale·levels), cutoff's first guess; and the largest index j with
        spent((m - j) / m) as computed (-1 if none): for every g up to the window's value j at most j values lie
        below g, so seen(g) = (m - searchsorted(g)) / m >= (m - j) / m and the feature is spent."""
        out = self.sized.get(m)
        if out is None:
            n = self.n * self.scale * self.levels
            k = max(calibrate.MIN_TAIL, int(tail_fraction * m))
            share = k / m
            j = m - (m + n - 1) // n
            while j + 1 < m and self.spent((m - j - 1) / m):
                j += 1
            while j >= 0 and not self.spent((m - j) / m):
                j -= 1
            if len(self.sized) >= 8:  # window sizes seen while the windows fill; then one size
                self.sized.clear()
            out = self.sized[m] = (k, share, max(0.0, math.log(1.0 / (n * share))), j)
        return out


def cutoff(share: float, t: float, beta: float, chain: Chain, drop: float) -> float:
    """A value g0 with chain.spent(tail_q(g0)) as computed, near the largest (from t - drop·beta down): tail_q only
    falls as g grows, so no value up to g0 can bring the detector's probability below 1. (tail_q and spent
    inline: the same float operations.)"""
    n, scale, levels = chain.n, chain.scale, chain.levels
    g0 = t - drop * beta
    step = beta * 1e-6 + abs(t) * 1e-12
    for _ in range(64):
        e = -(g0 - t) / beta
        v = share * math.exp(e if e < 700.0 else 700.0)
        v = v if v < 1.0 else 1.0
        v = v * n
        v = scale * (v if v < 1.0 else 1.0)
        if levels * (v if v < 1.0 else 1.0) >= 1.0:
            return g0
        g0 -= step
        step *= 2
    return -math.inf


class Block:
    """The features' values of the last `keep` rows and more, one row per pushed row, a column per feature.

    Rows are gathered flat in a list (a row's values one after the other) and moved into a numpy array once
    per block, when the tails need them. (A list, not an array('d'): extending an array converts each value
    through an argument parser, ~2,000 instructions a row, ~4% of the streamed detector's time.)
    """

    __slots__ = ("base", "buf", "features", "keep", "pending", "pos")

    def __init__(self, keep: int, features: int, slack: int) -> None:
        self.keep = keep
        self.features = features
        self.buf = np.empty((keep + slack, features))  # compacted to its last `keep` rows when full
        self.base = 0  # the row of buf[0]
        self.pos = 0  # rows in buf
        self.pending: list[float] = []  # rows pushed since, not in buf yet, flat (always this list)

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
        self.buf[self.pos : self.pos + k] = np.array(rows, dtype=float).reshape(k, self.features)
        self.pos += k
        del rows[:]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Every feature on rows lo..hi-1 (flushed and kept), a row per row."""
        return self.buf[lo - self.base : hi - self.base]

    def column(self, f: int, lo: int, hi: int) -> np.ndarray:
        """Feature f on rows lo..hi-1 (flushed and kept)."""
        return self.buf[lo - self.base : hi - self.base, f]
