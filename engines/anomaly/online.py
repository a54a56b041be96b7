"""The detector of engines.anomaly.detector one point at a time, in O(1) amortised work and bounded memory.

`OnlineDetector.push(value)` returns what `detector.detect` gives for that row of the whole series so far:
the same features, tails, coarse scales and suppression, computed incrementally instead of re-running the
vectorised detector over a history:

- window means are running sums doing the same additions as `features.window_sums` (restarted from an
  exact `math.fsum` at the same rows), the lagged median a sorted list of its 12 values, the seasonal
  envelope's per-row neighbourhood min/max (computed 64 rows at a time) kept for `cycles` periods;
- each feature's tail keeps the same sorted window as `calibrate.tail_probability`, slid once per block
  of rows with the same `_slide`, and the same tail parameters; from them a cutoff below which a value
  cannot bring the row's probability under 1. A row with every feature below its cutoff costs no `exp`
  and no lookup; the others cost an `exp` per feature above its cutoff and a binary search for the
  "already seen" floor of those that could give the row's smallest probability;
- each coarse scale is another detector level fed the mean of its last `a` rows every a/coarse_steps rows.

Memory per series is bounded by the configuration (mostly the tails' `memory` rows of each feature), not
by the rows seen. Alarms are identical to the batch detector's and probabilities equal up to the last bit
of `exp`, libm's per value here and numpy's per array there (tests/unit/engines/anomaly/test_online.py
compares them point for point).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engines.anomaly.detector import DEFAULT, DetectorConfig, coarse_config, novelty_means
from engines.anomaly.features import RESYNC
from engines.anomaly.online_rows import Novelty, Rows, RunningSum
from engines.anomaly.online_tail import Block, Tail, tail_q

_ENVELOPE_CHUNK = 64  # the seasonal envelope's neighbourhoods are computed this many rows at a time


class _Level:
    """detector.fine_probability one row at a time: the features of one scale and their tails."""

    def __init__(self, cfg: DetectorConfig, keep: int = 0, novelty: int = 0) -> None:
        self.cfg = cfg
        self.block = cfg.block
        self.period = cfg.period
        self.cycles = cfg.cycles
        self.spike_window, self.shift_window, self.shift_baseline = (
            cfg.spike_window,
            cfg.shift_window,
            cfg.shift_baseline,
        )
        self.reach = max(1, cfg.period // 48)
        self.seasonal = cfg.period > self.reach  # otherwise the feature is NaN throughout (but still counted)
        longest = max(
            keep, cfg.spike_window, cfg.shift_window, cfg.shift_baseline, _ENVELOPE_CHUNK + 2 * self.reach, novelty
        )
        self.xs = Rows(longest + 1)
        self.recent: list[float] = []  # the last spike_window values, sorted
        self.short_sum = self.long_sum = 0.0  # of the last shift_window and shift_baseline rows
        self.env_done = 0  # rows whose neighbourhood min and max are in lows and highs
        span = cfg.cycles * cfg.period + 1 if self.seasonal else 1
        self.lows, self.highs = Rows(span), Rows(span)
        # Features are defined from row 0, the seasonal one (x finite) from row `period` when it exists.
        firsts = [0, 0, 0, 0] + ([cfg.period if self.seasonal else -1] if cfg.period > 0 else [])
        # The shape novelty (features.novelty_distance), from row 2·novelty - 1 when it has candidates at all.
        self.novelty = Novelty(novelty, cfg.memory) if novelty > 0 else None
        if self.novelty is not None:
            firsts.append(2 * novelty - 1 if self.novelty.enabled else -1)
        self.tails = [Tail(first) for first in firsts]
        self.values = Block(cfg.memory + 2 * cfg.block, len(firsts), slack=8 * cfg.block)
        self.g0 = [math.inf] * len(firsts)  # the tails' cutoffs
        self.pending = self.values.pending
        self.i = 0

    def push(self, x: float) -> float:
        i = self.i
        self.i += 1
        xs = self.xs
        xs.append(x)
        xv, off = xs.values, xs.base
        recent = self.recent
        if recent:
            n = len(recent)
            med = recent[n // 2] if n % 2 else (recent[n // 2 - 1] + recent[n // 2]) / 2  # as np.median
            spike = abs(x - med)
        else:
            spike = 0.0  # row 0 is its own median
        insort(recent, x)
        w = self.spike_window
        if len(recent) > w:
            del recent[bisect_left(recent, xv[i - w - off])]
        # The running sums of features.window_sums (as RunningSum.push, inline: this runs for every row).
        w = self.shift_window
        if i % RESYNC == 0:
            self.short_sum = math.fsum(xv[max(0, i - w + 1) - off : i + 1 - off])
        else:
            self.short_sum = self.short_sum + ((x - xv[i - w - off]) if i >= w else x)
        trailing = self.short_sum / (i + 1 if i + 1 < w else w)
        w = self.shift_baseline
        base = self.long_sum / (i if i < w else w) if i else x  # the sum up to the previous row
        if i % RESYNC == 0:
            self.long_sum = math.fsum(xv[max(0, i - w + 1) - off : i + 1 - off])
        else:
            self.long_sum = self.long_sum + ((x - xv[i - w - off]) if i >= w else x)
        shift = abs(trailing - base)
        env = self._envelope(i, x) if self.seasonal else math.nan
        g = [x, -x, spike, shift, env] if self.period > 0 else [x, -x, spike, shift]
        if self.novelty is not None:
            g.append(self.novelty.push(i, xs))
        tails = self.tails
        n = len(tails)
        if i % self.block == 0:
            self.values.flush()
            tails[0].refresh(i, self.values, 0, n, self.cfg)
            tails[1].mirror(tails[0], i, n, self.cfg)  # features 0 and 1 are x and -x
            for f in range(2, n):
                tails[f].refresh(i, self.values, f, n, self.cfg)
            self.g0 = [tail.g0 for tail in tails]
        self.pending.append(g)
        g0 = self.g0
        # A row with every feature at or below its cutoff has probability 1 (NaN passes: q = 1).
        if (
            x <= g0[0]
            and -x <= g0[1]
            and spike <= g0[2]
            and shift <= g0[3]
            and (n == 4 or not g[4] > g0[4])
            and (n <= 5 or not g[5] > g0[5])
        ):
            return 1.0
        # The smallest max(q_f, seen_f) over the features above their cutoff (the others give >= 1/n),
        # looking up `seen` only for those whose q could still give the smallest.
        above = []
        for f in range(n):
            gf = g[f]
            if gf > g0[f]:
                pr = tails[f].params
                above.append((1.0 if pr is None else tail_q(gf, pr[0], pr[1], pr[2]), f))
        if len(above) > 1:
            above.sort()
        best = math.inf
        for qf, f in above:
            if qf >= best:
                break
            seen = tails[f].seen(g[f])
            pf = qf if qf > seen else seen
            if pf < best:
                best = pf
        return min(1.0, best * n)

    def _envelope(self, i: int, x: float) -> float:
        """features.seasonal_envelope_residual at row i (the level is seasonal: period > reach)."""
        reach, period = self.reach, self.period
        lows, highs = self.lows, self.highs
        done = self.env_done
        if i - reach - done + 1 >= _ENVELOPE_CHUNK or 0 <= i - period >= done:
            self._neighbourhoods(done, i - reach)
        if i < period:
            return math.nan
        hv, lv, hb = highs.values, lows.values, highs.base
        if i >= 3 * period and self.cycles == 3:  # the common case, unrolled: the same operations as below
            k = i - period - hb
            a, b = x - hv[k], lv[k] - x
            d1 = a if a > b and a > 0.0 else (b if b > 0.0 else 0.0)
            k -= period
            a, b = x - hv[k], lv[k] - x
            d2 = a if a > b and a > 0.0 else (b if b > 0.0 else 0.0)
            k -= period
            a, b = x - hv[k], lv[k] - x
            d3 = a if a > b and a > 0.0 else (b if b > 0.0 else 0.0)
            return max(min(d1, d2), min(max(d1, d2), d3))
        d = []
        for c in range(1, self.cycles + 1):
            k = i - c * period - hb
            if k < -hb:
                break
            a = x - hv[k]
            b = lv[k] - x
            d.append(a if a > b and a > 0.0 else (b if b > 0.0 else 0.0))  # max(0, a, b)
        if len(d) == 1:
            return d[0]
        if len(d) == 3:
            a, b, c3 = d
            return max(min(a, b), min(max(a, b), c3))  # the middle one
        d.sort()
        return _median(d)

    def _neighbourhoods(self, j0: int, j1: int) -> None:
        """min and max of x[j-reach : j+reach+1] for rows j0..j1 (all of whose neighbourhoods are in)."""
        if j1 < j0:
            return
        r = self.reach
        lo = max(0, j0 - r)
        x = np.frombuffer(self.xs.span(lo, j1 + r + 1))
        mins: list[float] = []
        maxs: list[float] = []
        head = min(j1 + 1, r)  # rows j < reach: their neighbourhood starts at row 0
        for j in range(j0, head):
            mins.append(float(x[: j + r + 1].min()))
            maxs.append(float(x[: j + r + 1].max()))
        if j1 >= max(j0, r):
            win = sliding_window_view(x[max(j0, r) - r - lo :], 2 * r + 1)
            mins += win.min(axis=1).tolist()
            maxs += win.max(axis=1).tolist()
        self.lows.extend(mins)
        self.highs.extend(maxs)
        self.env_done = j1 + 1


class _Coarse:
    """detector.coarse_probability one row at a time: a level fed the mean of the last `a` rows."""

    def __init__(self, cfg: DetectorConfig, a: int) -> None:
        self.a = a
        self.step = max(1, a // max(1, cfg.coarse_steps))
        self.scale = a // self.step
        self.sum = RunningSum(a)
        self.level = _Level(coarse_config(cfg, a), novelty=novelty_means(cfg, a)) if a > 1 else None

    def push(self, i: int, xs: Rows) -> float:
        """The scale's probability at row i, the last row appended to `xs` (1 between its reports)."""
        a = self.a
        if i % RESYNC and i >= a:  # RunningSum.push's common case, inline: this runs for every row
            total = self.sum.total = self.sum.total + (xs.values[-1] - xs.values[i - a - xs.base])
        else:
            total = self.sum.push(i, xs)
        if self.level is None or i < a - 1 or (i - a + 1) % self.step:
            return 1.0
        return min(1.0, self.scale * self.level.push(total / a))


class OnlineDetector:
    """One series' detector: push each value as it arrives, get its score, probability and alarm."""

    def __init__(self, config: DetectorConfig = DEFAULT) -> None:
        self.config = config
        self.fine = _Level(config, keep=max(config.coarse_rows, default=0))
        self.coarse = [_Coarse(config, a) for a in config.coarse_rows]
        self.rows = 0
        self.last_alarm = -config.suppress_rows - 1
        self.last_p = 0.0

    def push(self, value: float) -> tuple[float, float, bool]:
        """(score in [0, 1], combined tail probability, alarm) of the next row."""
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"anomaly detector: row {self.rows} is {x}; values must be finite numbers")
        i = self.rows
        self.rows += 1
        p = self.fine.push(x)
        xs = self.fine.xs
        for c in self.coarse:
            pc = c.push(i, xs)
            if pc < p:
                p = pc
        p = min(1.0, (1 + len(self.coarse)) * p)
        cfg = self.config
        alarm = p < cfg.alarm_probability and (
            i - self.last_alarm > cfg.suppress_rows or p < cfg.escalation * self.last_p
        )
        if alarm:
            self.last_alarm, self.last_p = i, p
        return 1.0 - p, p, alarm


def _median(v: list[float]) -> float:
    """The median of a sorted, non-empty list, as np.median computes it."""
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
