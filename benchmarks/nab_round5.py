"""NAB round 5's trials (benchmarks/RESULTS.md, "Anomaly detection"), run by `python -m benchmarks.nab_trials`.

Each is a function of one series' `nab_trials.Levels` returning its combined probability. The features
they add live here, not in engines/anomaly: none was kept.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.nab_trials import (
    DEFAULT,
    FEATURES,
    FloatArray,
    Levels,
    Trial,
    bonferroni,
    coarse_index,
    combine,
    feature_index,
    simes,
    tail,
)
from engines.anomaly import detector, features


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


def _coarse_novelty(lv: Levels, blocks: int) -> dict[int, FloatArray]:
    return {a: tail(features.novelty_distance(c.means, blocks * c.scale, c.cfg.memory), c.cfg)
            for a, c in lv.coarse.items()}  # fmt: skip


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
