"""The detector of engines.anomaly.detector one point at a time, in O(1) amortised work and bounded memory.

`OnlineDetector.push(value)` returns what `detector.detect` gives for that row of the whole series so far:
the same features, tails, coarse scales and suppression, computed incrementally instead of re-running the
vectorised detector over a history:

- window means are running sums doing the same additions as `features.window_sums` (restarted from an
  exact `math.fsum` at the same rows), the lagged median a sorted list of its values, the seasonal
  envelope's per-row neighbourhood min/max (computed up to 1,024 rows at a time) kept for
  `cycles` periods;
- each feature's tail keeps the same sorted window as `calibrate.tail_probability`, slid once per block
  of rows (the features of a level together, as the rows of one 2-d array, once their windows cover the
  same rows; or, for short windows and small blocks, as sorted arrays a value at a time), and the same tail
  parameters; from them a cutoff below which a value leaves the detector's probability at 1 whatever the
  other features and scales give (`online_tail.Chain`). A row with every feature at or below its cutoff
  costs a few comparisons, no `exp` and no lookup; the others cost an `exp` per feature above its cutoff
  and a binary search for the "already seen" floor of those that could give the row's smallest probability;
- each coarse scale is another detector level fed the mean of its last `a` rows every a/coarse_steps rows,
  its running sum brought up to date (the same additions, row by row) only when it reports.

Per row, the work is one pass of plain Python over floats (no numpy call, no allocation but the row's
feature values); numpy runs once per block (the tails), per up to 1,024 rows (the envelope) and per coarse
report (the shape novelty). Memory per series is bounded by the configuration (mostly the tails' `memory`
rows of each feature), not by the rows seen. Alarms are identical to the batch detector's and probabilities
equal up to the last bit of `exp`, libm's per value here and numpy's per array there
(tests/unit/engines/anomaly/test_online.py compares them point for point).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

import numpy as np

from engines.anomaly.detector import DEFAULT, DetectorConfig, coarse_config, novelty_means
from engines.anomaly.features import RESYNC
from engines.anomaly.online_list_tail import ListMirror, ListTail
from engines.anomaly.online_rows import Novelty, Rows, RunningSum
from engines.anomaly.online_tail import Block, Chain, Tail, TailGroup

_ENVELOPE_CHUNK = 1024  # the seasonal envelope's neighbourhoods are computed up to this many rows at a time
_NEVER = 1 << 62  # a row no series reaches
_NAN = math.nan
_PYTHON_NEIGHBOURHOODS = 200  # envelope neighbourhoods of at most this many values in all are taken without numpy
_LIST_TAILS = (16, 2048)  # tails slide a value at a time for blocks of at most this many rows and memories this short


class _Level:
    """detector.fine_probability one row at a time: the features of one scale and their tails.

    `scale` and `levels` say what becomes of the level's probability (online_tail.Chain): it is multiplied by
    `scale` (a coarse scale), and the smallest over the detector's `levels` levels by `levels`. (Slots: without them
    an instance of more than 30 attributes keeps them in a plain dict, slower to read; the per-row pass reads ~25.)
    """

    __slots__ = (
        "block",
        "cfg",
        "chain",
        "cuts",
        "cycles",
        "env_done",
        "env_due",
        "env_full",
        "full",
        "half",
        "highs",
        "hv",
        "i",
        "listed",
        "long_sum",
        "lows",
        "lv",
        "n",
        "next_block",
        "novelty",
        "odd",
        "pending",
        "period",
        "reach",
        "recent",
        "seasonal",
        "shift_baseline",
        "shift_window",
        "short_sum",
        "spike_window",
        "tails",
        "together",
        "values",
        "xs",
        "xv",
    )

    def __init__(self, cfg: DetectorConfig, keep: int = 0, novelty: int = 0, scale: int = 1, levels: int = 1) -> None:
        self.cfg = cfg
        self.block = cfg.block
        self.period = cfg.period
        self.cycles = cfg.cycles
        self.spike_window, self.shift_window, self.shift_baseline = (
            cfg.spike_window,
            cfg.shift_window,
            cfg.shift_baseline,
        )
        self.half, self.odd = cfg.spike_window // 2, cfg.spike_window % 2 == 1
        # From this row on, the median's list and both sums hold full windows (the common case, unrolled).
        self.full = max(cfg.spike_window, cfg.shift_window, cfg.shift_baseline, 1)
        self.reach = max(1, cfg.period // 48)
        self.seasonal = cfg.period > self.reach  # otherwise the feature is NaN throughout (but still counted)
        longest = max(
            keep, cfg.spike_window, cfg.shift_window, cfg.shift_baseline, _ENVELOPE_CHUNK + 2 * self.reach, novelty
        )
        self.xs = Rows(longest + 1)
        self.recent: list[float] = []  # the last spike_window values, sorted
        self.short_sum = self.long_sum = 0.0  # of the last shift_window and shift_baseline rows
        self.env_done = 0  # rows whose neighbourhood min and max are in lows and highs
        self.env_due = self._env_due() if self.seasonal else _NEVER  # the row at which to compute more of them
        self.env_full = 3 * cfg.period if self.seasonal and cfg.cycles == 3 else _NEVER  # three cycles from here
        span = cfg.cycles * cfg.period + 1 if self.seasonal else 1
        self.lows, self.highs = Rows(span), Rows(span)
        self.xv, self.lv, self.hv = self.xs.values, self.lows.values, self.highs.values  # (trimmed in place)
        # Features are defined from row 0, the seasonal one (x finite) from row `period` when it exists.
        firsts = [0, 0, 0, 0] + ([cfg.period if self.seasonal else -1] if cfg.period > 0 else [])
        # The shape novelty (features.novelty_distance), from row 2·novelty - 1 when it has candidates at all.
        self.novelty = Novelty(novelty, cfg.memory) if novelty > 0 else None
        if self.novelty is not None:
            firsts.append(2 * novelty - 1 if self.novelty.enabled else -1)
        self.n = len(firsts)
        # Short windows and small blocks: sorted arrays slid a value at a time (see ListTail).
        self.listed = cfg.block <= _LIST_TAILS[0] and cfg.memory <= _LIST_TAILS[1]
        self.tails = [ListTail(first) if self.listed else Tail(first) for first in firsts]
        if self.listed:
            self.tails[1] = ListMirror(firsts[1])
        self.chain = Chain(self.n, scale, levels)
        # The features refreshed together (x and those after -x that are ever defined) and their columns.
        together = [0] + [f for f in range(2, self.n) if firsts[f] >= 0]
        self.together = TailGroup([self.tails[f] for f in together], [0 if f == 0 else f - 1 for f in together])
        # Kept per row: every feature but -x (the tails of x serve it), flat in values.pending.
        self.values = Block(cfg.memory + 2 * cfg.block, self.n - 1, slack=8 * cfg.block)
        self.pending = self.values.pending
        # The tails' cutoffs for x, -x, spike, shift, envelope and novelty (inf for a feature the level lacks:
        # its NaN never passes one anyway).
        self.cuts: tuple[float, ...] = (math.inf,) * 6
        self.next_block = 0  # the row of the next block start
        self.i = 0

    def push(self, x: float) -> float:
        """The level's probability (min(1, n·smallest feature probability)) at its next row, whose value is x."""
        i = self.i
        self.i = i + 1
        xs = self.xs
        xv = self.xv
        xv.append(x)
        recent = self.recent
        if i >= self.full and i % RESYNC:  # full windows, no restart: the common case
            j = i - xs.base  # row i's index in xv
            h = self.half
            med = recent[h] if self.odd else (recent[h - 1] + recent[h]) / 2  # as np.median
            spike = abs(x - med)
            del recent[bisect_left(recent, xv[j - self.spike_window])]
            insort(recent, x)
            # The running sums of features.window_sums, row i adding x_i - x_{i-w}.
            w = self.shift_window
            trailing = (s := self.short_sum + (x - xv[j - w])) / w
            self.short_sum = s
            w = self.shift_baseline
            base = (s := self.long_sum) / w  # the sum up to the previous row
            self.long_sum = s + (x - xv[j - w])
        else:
            spike, trailing, base = self._warm(i, x)
        shift = abs(trailing - base)
        if i >= self.env_full:  # three cycles of the seasonal envelope: the same operations as _envelope
            if i >= self.env_due:
                self._neighbourhoods(self.env_done, i - self.reach)
            # Per cycle max(0, x - high, low - x) (high >= low: at most one of them is positive), and the middle
            # of the three; two zeros make it 0.
            period = self.period
            hv, lv = self.hv, self.lv
            k = i - period - self.highs.base  # the lows' too: both are extended together
            d1 = x - top if x > (top := hv[k]) else (bottom - x if x < (bottom := lv[k]) else 0.0)
            k -= period
            d2 = x - top if x > (top := hv[k]) else (bottom - x if x < (bottom := lv[k]) else 0.0)
            if d1 == 0.0 and d2 == 0.0:
                env = 0.0
            else:
                k -= period
                d3 = x - top if x > (top := hv[k]) else (bottom - x if x < (bottom := lv[k]) else 0.0)
                if d1 > d2:
                    d1, d2 = d2, d1
                env = d2 if d3 > d2 else (d3 if d3 > d1 else d1)
        elif self.seasonal:
            env = self._envelope(i, x)
        else:
            env = math.nan
        novelty = self.novelty
        nov = _NAN if novelty is None else novelty.push(i, xs)
        if i == self.next_block:  # the tails move on before this row joins them
            self._block(i)
        n = self.n
        if n == 5:
            self.pending.extend((x, spike, shift, nov if novelty is not None else env))
        elif n == 6:
            self.pending.extend((x, spike, shift, env, nov))
        else:
            self.pending.extend((x, spike, shift))
        c0, c1, c2, c3, c4, c5 = self.cuts
        # A row with every feature at or below its cutoff leaves the detector at 1 (NaN passes: q = 1).
        if x <= c0 and -x <= c1 and spike <= c2 and shift <= c3 and not env > c4 and not nov > c5:
            return 1.0
        # Otherwise the smallest max(q_f, seen_f) over the features above their cutoff (the others leave the
        # detector's probability at 1).
        tails = self.tails
        best = math.inf
        if x > c0:
            best = tails[0].least(x, best)
        if -x > c1:
            best = tails[1].least(-x, best)
        if spike > c2:
            best = tails[2].least(spike, best)
        if shift > c3:
            best = tails[3].least(shift, best)
        if env > c4:
            best = tails[4].least(env, best)
        if nov > c5:
            best = tails[-1].least(nov, best)
        return best if (best := best * self.n) < 1.0 else 1.0  # min(1, n·best)

    def _warm(self, i: int, x: float) -> tuple[float, float, float]:
        """Spike, trailing mean and lagged mean at row i while a window is not full yet or a sum restarts."""
        xv, off = self.xs.values, self.xs.base
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
        return spike, trailing, base

    def _block(self, i: int) -> None:
        """At a block start (row i, not pushed into the tails yet): the tails slide and re-estimate."""
        self.next_block = i + self.block
        self.values.flush()
        self.xs.trim()
        tails, values, chain, cfg = self.tails, self.values, self.chain, self.cfg
        # x and the features after -x (which has no column: the tails of x serve it), all at once when they can
        # (sorted arrays a value at a time, or one 2-d numpy slide).
        together = self.together
        if not (together.refresh_lists if self.listed else together.refresh)(i, values, chain, cfg):
            for tail, f in zip(together.tails, together.cols, strict=True):
                tail.refresh(i, values, f, chain, cfg)
            for tail in tails[2:]:
                if tail.first < 0:
                    tail.refresh(i, values, 0, chain, cfg)  # never defined: no window, no tail
        tails[1].mirror(tails[0], i, chain, cfg)  # features 0 and 1 are x and -x
        cuts = [tail.g0 for tail in tails[:4]] + [math.inf, math.inf]
        if self.period > 0:
            cuts[4] = tails[4].g0
        if self.novelty is not None:
            cuts[5] = tails[-1].g0
        self.cuts = tuple(cuts)

    def _env_due(self) -> int:
        """The first row at which rows from env_done on need their neighbourhoods: when _ENVELOPE_CHUNK of them
        are complete, or when the envelope first looks at env_done (a period later)."""
        done = self.env_done
        return min(done + _ENVELOPE_CHUNK - 1 + self.reach, done + self.period)

    def _envelope(self, i: int, x: float) -> float:
        """features.seasonal_envelope_residual at row i (the level is seasonal: period > reach)."""
        period = self.period
        if i >= self.env_due:
            self._neighbourhoods(self.env_done, i - self.reach)
        if i < period:
            return math.nan
        hv, lv, hb = self.highs.values, self.lows.values, self.highs.base
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
        if j1 >= j0:
            r = self.reach
            lo = max(0, j0 - r)
            xs = self.xs.span(lo, j1 + r + 1)
            mins: list[float] = []
            maxs: list[float] = []
            full = max(j0, r)  # rows j < reach: their neighbourhood starts at row 0
            if (j1 - j0 + 1) * (2 * r + 1) <= _PYTHON_NEIGHBOURHOODS:  # a few values: cheaper than numpy's calls
                full = j1 + 1
            for j in range(j0, full):
                near = xs[max(0, j - r) - lo : j + r + 1 - lo]
                mins.append(min(near))
                maxs.append(max(near))
            self.lows.extend(mins)
            self.highs.extend(maxs)
            if j1 >= full:
                x = np.frombuffer(xs)[full - r - lo :]
                self.lows.extend(_sliding(x, 2 * r + 1, j1 - full + 1, np.minimum))
                self.highs.extend(_sliding(x, 2 * r + 1, j1 - full + 1, np.maximum))
            self.env_done = j1 + 1
        self.env_due = self._env_due()


class _Coarse:
    """detector.coarse_probability one row at a time: a level fed the mean of the last `a` rows."""

    __slots__ = ("a", "level", "next", "scale", "step", "sum")

    def __init__(self, cfg: DetectorConfig, a: int) -> None:
        self.a = a
        self.step = max(1, a // max(1, cfg.coarse_steps))
        self.scale = a // self.step
        self.sum = RunningSum(a)
        levels = 1 + len(cfg.coarse_rows)
        self.level = (
            _Level(coarse_config(cfg, a), novelty=novelty_means(cfg, a), scale=self.scale, levels=levels)
            if a > 1
            else None
        )
        self.next = a - 1 if self.level is not None else _NEVER  # the row of the next report

    def report(self, i: int, xs: Rows) -> float:
        """The scale's probability at row i, a report row (the last row appended to `xs`, which keeps the rows
        from a + step before it)."""
        self.next = i + self.step
        total = self.sum.advance(i, xs)
        p = self.scale * self.level.push(total / self.a)  # type: ignore[union-attr]
        return p if p < 1.0 else 1.0


class OnlineDetector:
    """One series' detector: push each value as it arrives, get its score, probability and alarm."""

    __slots__ = (
        "alarm_probability",
        "coarse",
        "config",
        "escalation",
        "fine",
        "last_alarm",
        "last_p",
        "levels",
        "next_report",
        "quiet",
        "rows",
        "suppress_rows",
    )

    def __init__(self, config: DetectorConfig = DEFAULT) -> None:
        self.config = config
        self.coarse = [_Coarse(config, a) for a in config.coarse_rows]
        keep = max((c.a + c.step for c in self.coarse), default=0)
        self.fine = _Level(config, keep=keep, levels=1 + len(config.coarse_rows))
        self.levels = 1 + len(self.coarse)
        self.next_report = min((c.next for c in self.coarse), default=_NEVER)  # the first row a scale reports
        self.rows = 0
        self.alarm_probability, self.suppress_rows, self.escalation = (
            config.alarm_probability,
            config.suppress_rows,
            config.escalation,
        )
        self.last_alarm = -config.suppress_rows - 1
        self.last_p = 0.0
        # A row of probability 1 (none of its levels below 1, no coarse report) never alarms, unless the
        # alarm threshold is above 1.
        self.quiet = (0.0, 1.0, False) if config.alarm_probability <= 1.0 else None

    def push(self, value: float) -> tuple[float, float, bool]:
        """(score in [0, 1], combined tail probability, alarm) of the next row."""
        x = float(value)
        if x - x != 0.0:  # inf - inf and nan - nan are nan: not finite
            raise ValueError(f"anomaly detector: row {self.rows} is {x}; values must be finite numbers")
        i = self.rows
        self.rows = i + 1
        p = self.fine.push(x)
        if i >= self.next_report:
            xs = self.fine.xs
            soonest = _NEVER
            for c in self.coarse:
                if i == c.next:
                    pc = c.report(i, xs)
                    if pc < p:
                        p = pc
                if c.next < soonest:
                    soonest = c.next
            self.next_report = soonest
        elif p == 1.0 and self.quiet is not None:
            return self.quiet
        p = p if (p := self.levels * p) < 1.0 else 1.0  # min(1, levels·p)
        alarm = p < self.alarm_probability and (
            i - self.last_alarm > self.suppress_rows or p < self.escalation * self.last_p
        )
        if alarm:
            self.last_alarm, self.last_p = i, p
        return 1.0 - p, p, alarm


def _sliding(x: np.ndarray, width: int, count: int, fn: np.ufunc) -> np.ndarray:
    """fn (np.minimum or np.maximum) over x[i : i + width] for i < count, by doubling: runs of 1, 2, 4, ... values,
    then each window as two runs of the largest such length (overlapping: the same min or max)."""
    level, span = x, 1
    while 2 * span <= width:
        level = fn(level[:-span], level[span:])
        span *= 2
    out: np.ndarray = fn(level[:count], level[width - span : width - span + count])
    return out


def _median(v: list[float]) -> float:
    """The median of a sorted, non-empty list, as np.median computes it."""
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
