"""Self-calibrated tail probabilities: each block of rows is judged against the feature's own past."""

from __future__ import annotations

import numpy as np

FloatArray = np.ndarray

MIN_TAIL = 10  # the tail is never estimated from fewer past values than this


def tail_probability(
    g: FloatArray,
    *,
    block: int,
    memory: int,
    tail_fraction: float,
    min_history: int,
) -> FloatArray:
    """P(G >= g_i) per row, estimated from the rows before i's block (at most `memory` of them).

    The top `tail_fraction` of the past values are the tail; beyond its threshold t the probability decays
    exponentially with the tail's mean excess (a peaks-over-threshold estimate with shape 0), so a value
    far beyond anything seen gets a tiny probability instead of just "the largest so far". Blocks start at
    fixed multiples of `block` from the first row, so the result never depends on rows after i.
    `g` may be NaN on its first rows (a feature not defined yet), nowhere else. Rows with fewer than
    `min_history` defined past rows, and NaN rows, get probability 1.

    Only the sorted window and what it gives (the tail's parameters, each row's rank in it) are computed
    block by block; the probabilities are then computed for all rows at once, in the same float operations.
    """
    n = len(g)
    p = np.ones(n)
    defined = np.flatnonzero(~np.isnan(g))
    first = int(defined[0]) if len(defined) else n  # features are NaN only before their first defined row
    window = np.empty(0)  # g[lo : start] sorted, kept up to date block by block
    lo = hi = first
    begin = n  # the first row with a tail estimate: every later row has one (the window never shrinks)
    params: list[tuple[float, float, float, int]] = []  # per block from `begin`: share, t, beta, m
    below = np.empty(n, dtype=np.intp)  # per row from `begin`: the number of window values < g
    for start in range(0, n, block):
        new_lo = max(first, start - memory)
        if start > hi:
            window = _slide(window, g[lo:new_lo] if new_lo > lo else None, g[hi:start])
            lo, hi = max(lo, new_lo), start
        m = len(window)
        if start < min_history or m < min_history:
            continue
        begin = min(begin, start)
        params.append((*tail_params(window, tail_fraction), m))
        below[start : start + block] = window.searchsorted(g[start : start + block], side="left")
    if begin == n:
        return p
    share, t, beta, m_ = (np.repeat(np.array(c), block)[: n - begin] for c in zip(*params, strict=True))
    seg = g[begin:]
    with np.errstate(invalid="ignore"):
        q = np.minimum(1.0, share * np.exp(np.minimum(700.0, -(seg - t) / beta)))
    # Never below the share of past rows at least as extreme: a recurring excursion is not news.
    seen = (m_ - below[begin:]) / m_
    p[begin:] = np.where(np.isnan(seg), 1.0, np.maximum(q, seen))
    return p


def tail_params(window: FloatArray, tail_fraction: float) -> tuple[float, float, float]:
    """(k/m, t, beta) of a sorted window of m past values: the tail's share, threshold and mean excess.

    The top k = max(MIN_TAIL, tail_fraction·m) values are the tail, t the smallest of them; beta is their
    mean excess over t, at least a tenth of t's distance to the median (a tail of ties is not a wall).
    """
    m = len(window)
    k = max(MIN_TAIL, int(tail_fraction * m))
    t = float(window[m - k])
    med = float(window[m // 2])
    mean = float(np.add.reduce(window[m - k :])) / k  # what ndarray.mean computes, without its overhead
    beta = max(mean - t, 0.1 * (t - med), 1e-9 * (abs(t) + 1.0))
    return k / m, t, beta


def _slide(window: FloatArray, leaving: FloatArray | None, arriving: FloatArray) -> FloatArray:
    """The sorted window with the `arriving` values and without the `leaving` ones.

    Every leaving value must be in the window or among the arriving ones (a block longer than the
    memory leaves values that arrive in the same slide), so the arriving values are merged first: a stable
    sort of the window followed by the arriving values (a merge of sorted runs, linear in the window).
    """
    merged = np.concatenate((window, arriving))
    merged.sort(kind="stable")
    if leaving is not None and len(leaving):
        r = np.sort(leaving)
        # the j-th copy of a repeated value goes at the j-th position of its run in the window
        nth = np.arange(len(r)) - r.searchsorted(r, side="left")
        keep = np.ones(len(merged), dtype=bool)
        keep[merged.searchsorted(r, side="left") + nth] = False
        merged = merged[keep]
    return merged
