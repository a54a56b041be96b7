"""NAB trials without re-running the detector: each feature's tail probability per level, kept, recombined.

`python -m benchmarks.nab_trials` re-scores round 5's trials (benchmarks/RESULTS.md, "Anomaly detection"):
the kept detector, then each trial as extra or replacing features on the rows or the coarse scales, or as
one more channel, on the NAB developer subset (per category, and which windows and false alarms moved)
and on the two synthetic corpora (the seeds used for decisions). A trial is a function of one series'
`Levels` that returns its combined probability; `combine()` of the unchanged levels is bit-identical to
`detector.combined_probability` (tests/unit/benchmarks/test_nab_trials.py), so a trial differs from the
detector only by what it changes. The trial features live here, not in engines/anomaly: none was kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.nab_eval import find_nab
from engines.anomaly import calibrate, detector, features, nab_data, nab_score, synthetic

FloatArray = np.ndarray
DEFAULT = detector.DEFAULT


@dataclass
class Coarse:
    """One coarse scale: the rows it reports on, its means, settings, Bonferroni scale and feature tails."""

    rows: np.ndarray
    means: FloatArray
    cfg: detector.DetectorConfig
    scale: int
    probs: list[FloatArray]


@dataclass
class Levels:
    """One series: its values, windows (None: not scored), category, and each level's feature tails."""

    key: str
    category: str
    x: FloatArray
    windows: list[tuple[int, int]] | None
    cfg: detector.DetectorConfig
    fine: list[FloatArray]
    coarse: dict[int, Coarse] = field(default_factory=dict)


def tail(g: FloatArray, cfg: detector.DetectorConfig) -> FloatArray:
    """A feature's tail probability against its own past, with a level's settings."""
    return calibrate.tail_probability(
        g, block=cfg.block, memory=cfg.memory, tail_fraction=cfg.tail_fraction, min_history=cfg.min_history
    )


def level_probs(x: FloatArray, cfg: detector.DetectorConfig, novelty: int = 0) -> list[FloatArray]:
    """Each feature's tail probability, as detector.fine_probability computes them before their minimum."""
    feats = detector.feature_matrix(x, cfg, novelty)
    b, m, tf, h = cfg.block, cfg.memory, cfg.tail_fraction, cfg.min_history
    probs = calibrate.tail_probabilities(x, block=b, memory=m, tail_fraction=tf, min_history=h, mirror=True)
    return probs + [tail(f, cfg) for f in feats[2:]]


def levels(key: str, category: str, x: FloatArray, windows: list[tuple[int, int]] | None, period: int) -> Levels:
    cfg = replace(DEFAULT, period=period)
    out = Levels(key, category, x, windows, cfg, level_probs(x, cfg))
    n = len(x)
    for a in cfg.coarse_rows:
        s = max(1, a // max(1, cfg.coarse_steps))
        if a <= 1 or n < a + s:
            continue
        rows = np.arange(a - 1, n, s)
        means = features.trailing_mean(x, a)[rows]
        ccfg = detector.coarse_config(cfg, a)
        probs = level_probs(means, ccfg, detector.novelty_means(cfg, a))
        out.coarse[a] = Coarse(rows, means, ccfg, a // s, probs)
    return out


def combine(
    lv: Levels,
    fine_extra: Sequence[FloatArray] = (),
    coarse_extra: dict[int, list[FloatArray]] | None = None,
    fine_drop: Sequence[int] = (),
    coarse_drop: Sequence[int] | Mapping[int, Sequence[int]] = (),
    channels: Sequence[FloatArray] = (),
    merge: Callable[[list[FloatArray]], FloatArray] | None = None,
) -> FloatArray:
    """detector.combined_probability from the kept feature tails, with features added or dropped per level
    (each level: the minimum times the number of its features; `coarse_drop` per scale if a dict: their
    features differ when the daily period is not a multiple of the scale's step) and extra channels;
    `merge` replaces that rule (Bonferroni: `bonferroni`) at every stage."""
    rule = merge or bonferroni
    n = len(lv.x)
    fp = [p for k, p in enumerate(lv.fine) if k not in fine_drop] + list(fine_extra)
    probs = [rule(fp)]
    for a in lv.cfg.coarse_rows:
        out = np.ones(n)
        c = lv.coarse.get(a)
        if c is not None:
            drop = coarse_drop.get(a, ()) if isinstance(coarse_drop, Mapping) else coarse_drop
            ps = [p for k, p in enumerate(c.probs) if k not in drop] + list((coarse_extra or {}).get(a, []))
            out[c.rows] = np.minimum(1.0, c.scale * rule(ps))
        probs.append(out)
    probs += list(channels)
    return rule(probs)


def bonferroni(probs: list[FloatArray]) -> FloatArray:
    """The detector's rule: the smallest probability times their number."""
    out: FloatArray = np.minimum(1.0, len(probs) * np.min(np.vstack(probs), axis=0))
    return out


def simes(probs: list[FloatArray]) -> FloatArray:
    """Simes' combination: min over k of n·p_(k)/k (p_(1) <= p_(2) <= ...). Never above Bonferroni (k = 1 is
    Bonferroni); valid for independent or positively dependent tests; lower when several tests agree."""
    s = np.sort(np.vstack(probs), axis=0)
    k = np.arange(1, len(probs) + 1)[:, None]
    out: FloatArray = np.minimum(1.0, np.min(len(probs) * s / k, axis=0))
    return out


def dev_levels() -> list[Levels]:
    nab = find_nab()
    labels = nab_data.read_windows(nab / "labels" / "combined_windows.json")
    out = []
    for key, path in nab_data.list_files(nab / "data"):
        s = nab_data.read_series(path, key)
        head = [nab_data.parse_timestamp(t).timestamp() for t in s.timestamps[:64]]
        period = detector.rows_per_day(np.asarray(head))
        wins = nab_score.window_rows(s.timestamps, labels[key]) if key in labels else None
        out.append(levels(key, key.split("/")[0], np.asarray(s.values, dtype=float), wins, period))
    return out


def synthetic_levels(seeds: range, service: bool) -> list[Levels]:
    out = []
    for seed in seeds:
        items = synthetic.service_corpus(seed) if service else synthetic.corpus(seed)
        kind = "service" if service else "traffic"
        out += [
            levels(f"{kind}{seed}/{it.name}", f"{kind}{seed}", it.values, it.windows, synthetic.DAY) for it in items
        ]
    return out


def alarms(p: FloatArray) -> np.ndarray:
    return detector.suppress(p, DEFAULT.alarm_probability, DEFAULT.suppress_rows, DEFAULT.escalation)


def score(series: Sequence[Levels], probs: Sequence[FloatArray]) -> dict[str, float]:
    """The three profiles over the scored files, standard per category, and alarms on quiet series."""
    files: list[tuple[list[int], list[tuple[int, int]]]] = []
    per: dict[str, list[tuple[list[int], list[tuple[int, int]]]]] = {}
    quiet = 0
    for lv, p in zip(series, probs, strict=True):
        if lv.windows is None:
            continue
        a = alarms(p)
        files.append((a.tolist(), lv.windows))
        per.setdefault(lv.category, []).append((a.tolist(), lv.windows))
        quiet += 0 if lv.windows else int(a.sum())
    out = dict(nab_score.score_corpus(files))
    for cat, f in per.items():
        if any(w for _, w in f):
            out[cat] = nab_score.score_corpus(f)["standard"]
    out["alarms_on_quiet_series"] = float(quiet)
    return out


def mean_over_seeds(series: Sequence[Levels], probs: Sequence[FloatArray]) -> dict[str, float]:
    """Each profile averaged over the seeds (a synthetic corpus's category is its seed), quiet alarms summed."""
    seeds = sorted({lv.category for lv in series})
    per = []
    for s in seeds:
        pairs = [(lv, p) for lv, p in zip(series, probs, strict=True) if lv.category == s]
        per.append(score([lv for lv, _ in pairs], [p for _, p in pairs]))
    out = {k: float(np.mean([r[k] for r in per])) for k in nab_score.PROFILES}
    out["alarms_on_quiet_series"] = float(sum(r["alarms_on_quiet_series"] for r in per))
    return out


def moved(series: Sequence[Levels], before: Sequence[FloatArray], after: Sequence[FloatArray]) -> list[str]:
    """Per file whose alarms changed: windows found or lost, false alarms after the probation added or gone."""
    lines = []
    for lv, p0, p1 in zip(series, before, after, strict=True):
        a0, a1 = alarms(p0), alarms(p1)
        if lv.windows is None or np.array_equal(a0, a1):
            continue
        wins = lv.windows
        first = nab_score.probation_rows(len(lv.x))
        first0 = [_first(a0, s, e) for s, e in wins]
        first1 = [_first(a1, s, e) for s, e in wins]
        hit0 = [f is not None for f in first0]
        hit1 = [f is not None for f in first1]
        shifted = [f"{f0}->{f1}" for f0, f1 in zip(first0, first1, strict=True) if None not in (f0, f1) and f0 != f1]
        gained = [w for w, h0, h1 in zip(wins, hit0, hit1, strict=True) if h1 and not h0]
        lost = [w for w, h0, h1 in zip(wins, hit0, hit1, strict=True) if h0 and not h1]
        f0, f1 = _false_alarms(a0, wins, first), _false_alarms(a1, wins, first)
        parts = [f"windows found {gained}"] if gained else []
        parts += [f"windows lost {lost}"] if lost else []
        parts += [f"first alarm in a window moved {', '.join(shifted)}"] if shifted else []
        parts += [f"false alarms +{len(f1 - f0)} -{len(f0 - f1)}"] if f0 != f1 else []
        if parts:
            lines.append(f"{lv.key}: " + "; ".join(parts))
    return lines


def _first(a: np.ndarray, start: int, end: int) -> int | None:
    hits = np.flatnonzero(a[start : end + 1])
    return int(hits[0]) + start if len(hits) else None


def _false_alarms(a: np.ndarray, wins: Sequence[tuple[int, int]], first: int) -> set[int]:
    return {int(i) for i in np.flatnonzero(a) if i >= first and not any(s <= i <= e for s, e in wins)}


# --- the trial features (round 5; none kept) -------------------------------------------------------------


def ks_distance(x: FloatArray, recent: int, before: int, chunk: int = 4096) -> FloatArray:
    """Two-sample Kolmogorov-Smirnov distance between rows i-recent+1..i and the `before` rows before them.

    A change of level, spread or shape in the last `recent` rows. Counted in integers (each recent row
    +before, each earlier row -recent, the distance their running sum's largest |value| at a change of
    value, over recent·before), so ties and rounding do not matter. NaN before row recent + before - 1.
    """
    n = len(x)
    out = np.full(n, np.nan)
    span = recent + before
    if n < span:
        return out
    view = sliding_window_view(x, span)  # view[j] = x[j : j + span], reported on row j + span - 1
    lab = np.concatenate((np.full(before, -recent), np.full(recent, before)))
    for j0 in range(0, len(view), chunk):
        v = view[j0 : j0 + chunk]
        order = np.argsort(v, axis=1, kind="stable")
        sv = np.take_along_axis(v, order, axis=1)
        cum = np.cumsum(lab[order], axis=1)
        cum[:, :-1][sv[:, 1:] == sv[:, :-1]] = 0  # between equal values the ECDFs are not compared
        out[j0 + span - 1 : j0 + span - 1 + len(v)] = np.abs(cum).max(axis=1) / (recent * before)
    return out


def rank_shift(x: FloatArray, recent: int, before: int, chunk: int = 2048) -> FloatArray:
    """|AUC - 1/2| of the last `recent` rows against the `before` rows before them (Mann-Whitney; ties half):
    a change of level measured by ranks, which a single spike moves by at most 1/recent."""
    n = len(x)
    out = np.full(n, np.nan)
    span = recent + before
    if n < span:
        return out
    view = sliding_window_view(x, span)
    for j0 in range(0, len(view), chunk):
        v = view[j0 : j0 + chunk]
        prev, last = v[:, :before, None], v[:, None, before:]
        wins = (last > prev).sum(axis=(1, 2)) + 0.5 * (last == prev).sum(axis=(1, 2))
        out[j0 + span - 1 : j0 + span - 1 + len(v)] = np.abs(wins / (recent * before) - 0.5)
    return out


def knn_distance(x: FloatArray, length: int, horizon: int, chunk_cells: int = 1 << 16) -> FloatArray:
    """KNN-CAD's nonconformity with k = 1: the raw last `length` rows against every earlier such shingle
    starting `length` to `horizon` rows before (not overlapping it), Euclidean distance to the nearest."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < 2 * length or horizon < length:
        return out
    z = sliding_window_view(x, length)
    width = horizon - length + 1
    lagged = [sliding_window_view(np.concatenate((np.full(horizon, np.inf), z[:, k])), width) for k in range(length)]
    step = max(1, chunk_cells // width)
    for j0 in range(length, len(z), step):
        j1 = min(len(z), j0 + step)
        acc = np.zeros((j1 - j0, width))
        d = np.empty_like(acc)
        for k in range(length):
            np.subtract(z[j0:j1, k][:, None], lagged[k][j0:j1], out=d)
            np.multiply(d, d, out=d)
            acc += d
        out[j0 + length - 1 : j1 + length - 1] = np.sqrt(acc.min(axis=1))
    return out


def conformal_p(g: FloatArray, block: int, memory: int, min_history: int) -> FloatArray:
    """The conformal p-value (1 + #past >= g_i) / (1 + m) against the m defined values before row i's block
    (at most `memory` rows back); 1 with fewer than `min_history` of them, and on NaN rows."""
    n = len(g)
    p = np.ones(n)
    for start in range(0, n, block):
        past = g[max(0, start - memory) : start]
        past = np.sort(past[~np.isnan(past)])
        if len(past) < min_history:
            continue
        seg = g[start : start + block]
        ge = len(past) - np.searchsorted(past, seg, side="left")
        p[start : start + block] = np.where(np.isnan(seg), 1.0, (1 + ge) / (1 + len(past)))
    return p


Trial = Callable[[Levels], FloatArray]


def _coarse_novelty(lv: Levels, blocks: int) -> dict[int, FloatArray]:
    return {a: tail(features.novelty_distance(c.means, blocks * c.scale, c.cfg.memory), c.cfg)
            for a, c in lv.coarse.items()}  # fmt: skip


FEATURES = ("x", "-x", "spike", "shift", "envelope", "novelty")


def feature_index(cfg: detector.DetectorConfig, name: str, novelty: bool) -> tuple[int, ...]:
    """Where feature `name` is in a level's list (detector.feature_matrix's order), () if it has none."""
    names = ["x", "-x", "spike", "shift"] + (["envelope"] if cfg.period > 0 else []) + (["novelty"] if novelty else [])
    return (names.index(name),) if name in names else ()


def coarse_index(lv: Levels, name: str) -> dict[int, tuple[int, ...]]:
    return {a: feature_index(c.cfg, name, novelty=True) for a, c in lv.coarse.items()}


def drop_on_rows(name: str) -> Trial:
    return lambda lv: combine(lv, fine_drop=feature_index(lv.cfg, name, novelty=False))


def drop_on_coarse(name: str) -> Trial:
    return lambda lv: combine(lv, coarse_drop=coarse_index(lv, name))


def trial_novelty_4_8_16(lv: Levels) -> FloatArray:
    n4, n16 = _coarse_novelty(lv, 4), _coarse_novelty(lv, 16)
    return combine(lv, coarse_extra={a: [n4[a], n16[a]] for a in lv.coarse})


def trial_novelty_nested(lv: Levels) -> FloatArray:
    n4, n16 = _coarse_novelty(lv, 4), _coarse_novelty(lv, 16)
    one = {a: [np.minimum(1.0, 3 * np.minimum(np.minimum(c.probs[-1], n4[a]), n16[a]))] for a, c in lv.coarse.items()}
    return combine(lv, coarse_drop=coarse_index(lv, "novelty"), coarse_extra=one)


def trial_roughness(lv: Levels) -> FloatArray:
    spike = np.abs(lv.x - features.lagged_median(lv.x, DEFAULT.spike_window))
    extra = {a: [tail(features.trailing_mean(spike, a)[c.rows], c.cfg)] for a, c in lv.coarse.items()}
    return combine(lv, coarse_extra=extra)


def trial_local_scale(lv: Levels) -> FloatArray:
    """The median over the block of |x - median of the 12 rows before|: a spread that grows on most rows
    (not a few spikes, which the spike feature sees), a 7th coarse feature."""
    spike = np.abs(lv.x - features.lagged_median(lv.x, DEFAULT.spike_window))
    extra = {}
    for a, c in lv.coarse.items():
        med = np.median(sliding_window_view(spike, a)[c.rows - a + 1], axis=1)
        extra[a] = [tail(med, c.cfg)]
    return combine(lv, coarse_extra=extra)


def relative_envelope(x: FloatArray, period: int, cycles: int, reach: int) -> FloatArray:
    """features.seasonal_envelope_residual divided by the median width (max - min) of the same neighbourhoods
    on the past cycles: a deviation judged against the spread at that time of day, so that a noisy peak hour
    and a quiet night share one tail (floor: 1e-9·(|x| + 1), as calibrate.tail_params' for a tail of ties)."""
    n = len(x)
    out = np.full(n, np.nan)
    if period <= reach or n <= period:
        return out
    lo_all = np.empty(n)
    hi_all = np.empty(n)
    if n > 2 * reach:
        win = sliding_window_view(x, 2 * reach + 1)
        lo_all[reach : n - reach] = win.min(axis=1)
        hi_all[reach : n - reach] = win.max(axis=1)
    for j in range(min(reach, n)):
        lo_all[j] = x[: j + reach + 1].min()
        hi_all[j] = x[: j + reach + 1].max()
    dist, width = [], []
    for c in range(1, cycles + 1):
        lag = c * period
        d = np.full(n, np.nan)
        w = np.full(n, np.nan)
        if n > lag:
            lo, hi = lo_all[: n - lag], hi_all[: n - lag]
            d[lag:] = np.maximum(0.0, np.maximum(x[lag:] - hi, lo - x[lag:]))
            w[lag:] = hi - lo
        dist.append(d)
        width.append(w)
    d_med = np.nanmedian(np.vstack(dist)[:, period:], axis=0)
    w_med = np.nanmedian(np.vstack(width)[:, period:], axis=0)
    out[period:] = d_med / np.maximum(w_med, 1e-9 * (np.abs(x[period:]) + 1.0))
    return out


def _relative_envelope_probs(x: FloatArray, cfg: detector.DetectorConfig) -> FloatArray:
    reach = max(1, cfg.period // 48)
    return tail(relative_envelope(x, cfg.period, cfg.cycles, reach), cfg)


def trial_relative_envelope(lv: Levels, coarse: bool = False) -> FloatArray:
    """The seasonal envelope relative to its own width, in place of the envelope (rows; and coarse scales)."""
    fine = feature_index(lv.cfg, "envelope", novelty=False)
    fine_extra = [_relative_envelope_probs(lv.x, lv.cfg)] if fine else []
    drop: dict[int, tuple[int, ...]] = {}
    extra: dict[int, list[FloatArray]] = {}
    if coarse:
        drop = coarse_index(lv, "envelope")
        extra = {a: [_relative_envelope_probs(c.means, c.cfg)] for a, c in lv.coarse.items() if drop[a]}
    return combine(lv, fine_drop=fine, fine_extra=fine_extra, coarse_drop=drop, coarse_extra=extra)


def trial_ks(lv: Levels) -> FloatArray:
    return combine(lv, fine_extra=[tail(ks_distance(lv.x, 24, DEFAULT.shift_baseline), lv.cfg)])


def trial_rank_shift(lv: Levels) -> FloatArray:
    return combine(lv, fine_extra=[tail(rank_shift(lv.x, 24, DEFAULT.shift_baseline), lv.cfg)])


def trial_rank_replaces_shift(lv: Levels) -> FloatArray:
    g = rank_shift(lv.x, DEFAULT.shift_window, DEFAULT.shift_baseline)
    return combine(lv, fine_drop=(3,), fine_extra=[tail(g, lv.cfg)])


def trial_knn_channel(lv: Levels) -> FloatArray:
    c = lv.cfg
    p = conformal_p(knn_distance(lv.x, DEFAULT.novelty_window, 1000), c.block, c.memory, c.min_history)
    return combine(lv, channels=[p])


def trial_simes(lv: Levels) -> FloatArray:
    return combine(lv, merge=simes)


def tail_begins(x: FloatArray, cfg: detector.DetectorConfig, novelty: int = 0) -> list[int]:
    """Per feature of a level, the first row with a tail estimate (calibrate.tail_probabilities: the first
    block start with `min_history` defined values before it); len(x) if none. Before it the feature is 1."""
    out = []
    for g in detector.feature_matrix(x, cfg, novelty):
        defined = np.flatnonzero(~np.isnan(g))
        first = int(defined[0]) if len(defined) else len(x)
        start = -(-max(cfg.min_history, first + cfg.min_history) // cfg.block) * cfg.block
        out.append(min(start, len(x)) if cfg.memory >= cfg.min_history else len(x))
    return out


def _speaking(probs: list[FloatArray], begins: list[int]) -> FloatArray:
    """The smallest probability times the number of features that have begun at each row (1 before any)."""
    n = len(probs[0])
    count = np.zeros(n)
    for b in begins:
        count[b:] += 1
    out: FloatArray = np.where(count > 0, np.minimum(1.0, np.min(np.vstack(probs), axis=0) * count), 1.0)
    return out


def trial_count_begun(lv: Levels, levels_only: bool = False) -> FloatArray:
    """Bonferroni over the tests that exist at each row: a feature or a scale counts once its tail has begun."""
    n = len(lv.x)
    probs = [bonferroni(lv.fine) if levels_only else _speaking(lv.fine, tail_begins(lv.x, lv.cfg))]
    count = np.ones(n)  # the rows' level counts from its first row with a tail: every row with p < 1 is after it
    for a, c in lv.coarse.items():
        begins = tail_begins(c.means, c.cfg, detector.novelty_means(lv.cfg, a))
        out = np.ones(n)
        level = bonferroni(c.probs) if levels_only else _speaking(c.probs, begins)
        out[c.rows] = np.minimum(1.0, c.scale * level)
        first = min(begins)
        if first < len(c.rows):
            count[int(c.rows[first]) :] += 1
        probs.append(out)
    combined: FloatArray = np.minimum(1.0, count * np.min(np.vstack(probs), axis=0))
    return combined


def null_row_feature(lv: Levels) -> FloatArray:
    return combine(lv, fine_extra=[np.ones(len(lv.x))])


def null_coarse_feature(lv: Levels) -> FloatArray:
    return combine(lv, coarse_extra={a: [np.ones(len(c.rows))] for a, c in lv.coarse.items()})


def null_channel(lv: Levels) -> FloatArray:
    return combine(lv, channels=[np.ones(len(lv.x))])


TRIALS: dict[str, Trial] = {
    "kept detector": combine,
    "shape novelty at 4, 8 and 16 blocks, 8 coarse features": trial_novelty_4_8_16,
    "shape novelty at 4, 8 and 16 blocks as one feature (their min x 3)": trial_novelty_nested,
    "coarse roughness (mean |x - median12| over the block) as a 7th coarse feature": trial_roughness,
    "coarse local scale (median |x - median12| over the block) as a 7th coarse feature": trial_local_scale,
    "seasonal envelope relative to its width, in place of the envelope on the rows": trial_relative_envelope,
    "the same on the rows and the coarse scales": lambda lv: trial_relative_envelope(lv, coarse=True),
    "KS distance, last 24 rows vs the 120 before, 6th row feature": trial_ks,
    "rank shift (Mann-Whitney), last 24 rows vs the 120 before, 6th row feature": trial_rank_shift,
    "rank shift, last 6 vs the 120 before, replacing the shift feature on the rows": trial_rank_replaces_shift,
    "KNN conformal channel (8-row shingles, last 1,000 rows, k = 1), a 4th channel": trial_knn_channel,
    "Simes instead of Bonferroni to combine features and levels": trial_simes,
    "Bonferroni over the tests begun: a feature or a scale counts once its tail exists": trial_count_begun,
    "Bonferroni over the scales begun (features counted as now)": lambda lv: trial_count_begun(lv, levels_only=True),
    # The price of one more test alone: a feature or channel that never speaks (probability 1 throughout).
    "null 6th row feature (the Bonferroni price of a row feature)": null_row_feature,
    "null 7th coarse feature (the Bonferroni price of a coarse feature)": null_coarse_feature,
    "null 4th channel (the Bonferroni price of a channel)": null_channel,
    # What each feature is worth beyond its Bonferroni price: the detector without it.
    **{f"without {f} on the rows": drop_on_rows(f) for f in FEATURES[:5]},
    **{f"without {f} on the coarse scales": drop_on_coarse(f) for f in FEATURES},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trial", action="append", choices=sorted(TRIALS), help="only these (default: all)")
    parser.add_argument("--traffic-seeds", default="0-11", help="traffic corpus seeds, FIRST-LAST (default 0-11)")
    parser.add_argument("--service-seeds", default="0-23", help="service corpus seeds, FIRST-LAST (default 0-23)")
    args = parser.parse_args(argv)

    def seeds(text: str) -> range:
        lo, _, hi = text.partition("-")
        return range(int(lo), int(hi or lo) + 1)

    corpora = {
        "dev": dev_levels(),
        "traffic": synthetic_levels(seeds(args.traffic_seeds), service=False),
        "service": synthetic_levels(seeds(args.service_seeds), service=True),
    }
    base = {name: [combine(lv) for lv in series] for name, series in corpora.items()}
    for name in args.trial or list(TRIALS):
        trial = TRIALS[name]
        probs = {k: base[k] if trial is combine else [trial(lv) for lv in s] for k, s in corpora.items()}
        dev = score(corpora["dev"], probs["dev"])
        tr = mean_over_seeds(corpora["traffic"], probs["traffic"])
        sv = mean_over_seeds(corpora["service"], probs["service"])
        cats = " / ".join(f"{dev[c]:.2f}" for c in sorted({lv.category for lv in corpora["dev"] if lv.windows}))
        print(f"{name}\n  dev {dev['standard']:.2f} / {dev['reward_low_FP_rate']:.2f} / "
              f"{dev['reward_low_FN_rate']:.2f} (categories {cats}), traffic {tr['standard']:.2f}, "
              f"service {sv['standard']:.2f}; quiet-series alarms {tr['alarms_on_quiet_series']:.0f} / "
              f"{sv['alarms_on_quiet_series']:.0f}")  # fmt: skip
        for line in moved(corpora["dev"], base["dev"], probs["dev"]):
            print("   ", line)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
