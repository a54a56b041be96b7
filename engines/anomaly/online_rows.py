"""Row state for the streamed detector (engines.anomaly.online): the last rows of a series, running
window sums that do the batch detector's additions (brought up to date when needed), and the coarse
scales' shape novelty."""

from __future__ import annotations

import math
from array import array

import numpy as np

from engines.anomaly.features import RESYNC


class Rows:
    """The last `keep` values of a series by absolute row: a compact array('d'), appended to directly
    (`values.append`) and trimmed back to `keep` values by trim() once twice as long."""

    __slots__ = ("base", "keep", "values")

    def __init__(self, keep: int) -> None:
        self.keep = max(1, keep)
        self.base = 0  # the row of values[0]
        self.values = array("d")

    def trim(self) -> None:
        if len(self.values) >= 2 * self.keep:
            cut = len(self.values) - self.keep
            del self.values[:cut]
            self.base += cut

    def extend(self, vs: list[float] | np.ndarray) -> None:
        if len(self.values) + len(vs) > 2 * self.keep:
            cut = max(0, len(self.values) - self.keep)
            del self.values[:cut]
            self.base += cut
        if isinstance(vs, np.ndarray):
            self.values.frombytes(vs.astype(float, copy=False).tobytes())
        else:
            self.values.extend(vs)

    def span(self, lo: int, hi: int) -> array[float]:
        """Rows lo..hi-1 (all kept), a copy."""
        return self.values[lo - self.base : hi - self.base]


class RunningSum:
    """sum of the last `window` rows, the same additions as features.window_sums, brought up to date on demand."""

    __slots__ = ("row", "total", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.total = 0.0
        self.row = -1  # the row `total` is the sum at

    def advance(self, i: int, xs: Rows) -> float:
        """The sum at row i: the rows since the last call added one at a time, as the batch sum does (xs keeps
        the rows from window rows before the first of them)."""
        w = self.window
        xv, off = xs.values, xs.base
        total = self.total
        k0 = self.row + 1
        if k0 >= w and k0 // RESYNC == i // RESYNC and k0 % RESYNC:  # full windows, no restart: x_k - x_{k-w}
            for new, old in zip(xv[k0 - off : i + 1 - off], xv[k0 - w - off : i + 1 - w - off], strict=True):
                total = total + (new - old)
        else:
            for k in range(k0, i + 1):
                if k % RESYNC == 0:
                    total = math.fsum(xv[max(0, k - w + 1) - off : k + 1 - off])
                elif k >= w:
                    total = total + (xv[k - off] - xv[k - w - off])
                else:
                    total = total + xv[k - off]
        self.total, self.row = total, i
        return total


class Novelty:
    """features.novelty_distance one row at a time: the centred subsequences of the last `horizon` rows."""

    __slots__ = ("acc", "base", "buf", "cap", "diff", "enabled", "horizon", "pos", "width", "window")

    def __init__(self, window: int, horizon: int) -> None:
        self.window = window
        self.horizon = horizon
        self.enabled = horizon >= window >= 1
        # buf[k, s - base]: value k of the centred subsequence starting at row s; compacted when full
        self.buf = np.empty((window, 2 * (horizon + 1) + 64))
        self.base = 0
        self.pos = 0
        # The squared differences with the candidates and their sums, reused while their number stays the same
        # (it grows with the first `horizon` rows, then stays horizon - window + 1).
        self.diff = np.empty((window, 0))
        self.acc = np.empty(0)
        self.width = 0  # their number
        self.cap = self.buf.shape[1]

    def push(self, i: int, xs: Rows) -> float:
        """The distance at row i (the last row appended to `xs`, which keeps at least `window` rows)."""
        w = self.window
        j = i - w + 1  # the start of the subsequence ending at row i
        if j < 0 or not self.enabled:
            return math.nan
        off = xs.base
        vals = xs.values[j - off : i + 1 - off]
        total = 0.0
        for v in vals:  # left to right, as features.centred_windows
            total = total + v
        buf = self.buf
        pos = self.pos
        if pos == self.cap:
            keep = self.horizon + 1
            buf[:, :keep] = buf[:, pos - keep : pos]
            self.base += pos - keep
            pos = keep
        self.pos = pos + 1
        z = buf[:, pos : pos + 1]
        np.subtract(np.frombuffer(vals), total / w, out=buf[:, pos])
        if j < w:
            return math.nan
        # Candidates start at rows max(0, j - horizon) .. j - w, all in buf (before column pos, row j's).
        lo = j - self.horizon
        lo = (lo if lo > 0 else 0) - self.base
        hi = j - w + 1 - self.base
        if self.width != hi - lo:
            self.width = hi - lo
            self.diff = np.empty((w, hi - lo))
            self.acc = np.empty(hi - lo)
        d = np.subtract(z, buf[:, lo:hi], out=self.diff)
        np.multiply(d, d, out=d)
        # Summed over k = 0..w-1 in that order (a reduction over the outer axis of a C-contiguous array adds
        # row after row), as the batch code's loop: the same floats. The smallest read at argmin (the first NaN
        # if any, as np.minimum gives): ~1 us less than a ufunc reduction's overhead.
        acc = np.add.reduce(d, axis=0, out=self.acc)
        return math.sqrt(acc[acc.argmin()])
