"""Row state for the streamed detector (engines.anomaly.online): the last rows of a series, running
window sums that do the batch detector's additions, and the coarse scales' shape novelty."""

from __future__ import annotations

import math
from array import array

import numpy as np

from engines.anomaly.features import RESYNC


class Rows:
    """The last `keep` values of a series by absolute row: a compact array('d'), trimmed when twice as long."""

    __slots__ = ("base", "keep", "values")

    def __init__(self, keep: int) -> None:
        self.keep = max(1, keep)
        self.base = 0  # the row of values[0]
        self.values = array("d")

    def append(self, v: float) -> None:
        if len(self.values) >= 2 * self.keep:
            cut = len(self.values) - self.keep
            del self.values[:cut]
            self.base += cut
        self.values.append(v)

    def extend(self, vs: list[float]) -> None:
        if len(self.values) + len(vs) > 2 * self.keep:
            cut = max(0, len(self.values) - self.keep)
            del self.values[:cut]
            self.base += cut
        self.values.extend(vs)

    def at(self, row: int) -> float:
        return self.values[row - self.base]

    def span(self, lo: int, hi: int) -> array[float]:
        """Rows lo..hi-1 (all kept), a copy."""
        return self.values[lo - self.base : hi - self.base]


class RunningSum:
    """sum of the last `window` rows, the same additions as features.window_sums."""

    __slots__ = ("total", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.total = 0.0

    def push(self, i: int, xs: Rows) -> float:
        """The sum at row i, the last row appended to `xs` (which keeps at least window + 1 rows)."""
        w = self.window
        if i % RESYNC == 0:
            self.total = math.fsum(xs.span(max(0, i - w + 1), i + 1))
        elif i >= w:
            self.total = self.total + (xs.at(i) - xs.at(i - w))
        else:
            self.total = self.total + xs.at(i)
        return self.total


class Novelty:
    """features.novelty_distance one row at a time: the centred subsequences of the last `horizon` rows."""

    __slots__ = ("base", "buf", "enabled", "horizon", "pos", "window")

    def __init__(self, window: int, horizon: int) -> None:
        self.window = window
        self.horizon = horizon
        self.enabled = horizon >= window >= 1
        # buf[k, s - base]: value k of the centred subsequence starting at row s; compacted when full
        self.buf = np.empty((window, 2 * (horizon + 1) + 64))
        self.base = 0
        self.pos = 0

    def push(self, i: int, xs: Rows) -> float:
        """The distance at row i (the last row appended to `xs`, which keeps at least `window` rows)."""
        w = self.window
        j = i - w + 1  # the start of the subsequence ending at row i
        if not self.enabled or j < 0:
            return math.nan
        vals = xs.span(j, i + 1)
        total = 0.0
        for v in vals:  # left to right, as features.centred_windows
            total = total + v
        c = total / w
        z = [v - c for v in vals]
        out = math.nan
        buf = self.buf
        if j >= w:  # candidates start at rows max(0, j - horizon) .. j - w, all in buf
            lo = max(0, j - self.horizon) - self.base
            hi = j - w + 1 - self.base
            d = np.array(z)[:, None] - buf[:, lo:hi]
            d *= d
            # Summed over k = 0..w-1 in that order (a reduction over the outer axis adds row after row), as
            # the batch code's loop: the same floats.
            out = math.sqrt(float(np.add.reduce(d, axis=0).min()))
        if self.pos == buf.shape[1]:
            keep = self.horizon + 1
            buf[:, :keep] = buf[:, self.pos - keep : self.pos]
            self.base += self.pos - keep
            self.pos = keep
        buf[:, self.pos] = z
        self.pos += 1
        return out
