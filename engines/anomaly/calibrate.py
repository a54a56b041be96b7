"""Self-calibrated tail probabilities: each block of rows is judged against the feature's own past."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = np.ndarray

MIN_TAIL = 10  # the tail is never estimated from fewer past values than this


SORT_AT_ONCE = 1024  # full windows of at most this many values are sorted many at a time, not slid


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
    """
    return tail_probabilities(
        g, block=block, memory=memory, tail_fraction=tail_fraction, min_history=min_history, mirror=False
    )[0]


def tail_probabilities(
    g: FloatArray,
    *,
    block: int,
    memory: int,
    tail_fraction: float,
    min_history: int,
    mirror: bool,
) -> list[FloatArray]:
    """tail_probability of g, and with `mirror` of -g too, from the same sorted windows.

    Block by block, only the sorted window of past values and what it gives (the tail's parameters, the
    rank of the block's values in it) are computed; the probabilities then for all rows at once. The
    sorted window is slid from block to block, or, once full, if `memory` <= SORT_AT_ONCE, sorted afresh
    for many blocks at a time (one numpy sort of a (blocks, memory) array): the same values either way.
    The window of -g is that of g reversed and negated (the same values as sorting -g, up to the order of
    0.0 and -0.0, which no output depends on).
    """
    n = len(g)
    gs = [g, -g] if mirror else [g]
    defined = np.flatnonzero(~np.isnan(g))
    first = int(defined[0]) if len(defined) else n  # features are NaN only before their first defined row
    split = n  # blocks from here on have a full window, sorted many at a time
    if memory <= SORT_AT_ONCE:
        split = min(n, -(-(first + memory) // block) * block)
    begin = n  # the first row with a tail estimate: every later row has one (the window never shrinks)
    below = [np.empty(n, dtype=np.intp) for _ in gs]  # per row from `begin`: the window values < g
    params: list[list[tuple[float, float, float]]] = [[] for _ in gs]  # per block from `begin`: share, t, beta
    sizes: list[int] = []  # and the window's size
    window = np.empty(0)  # g[lo : start] sorted, kept up to date block by block
    lo = hi = first
    for start in range(0, split, block):
        new_lo = max(first, start - memory)
        if start > hi:
            window = _slide(window, g[lo:new_lo] if new_lo > lo else None, g[hi:start])
            lo, hi = max(lo, new_lo), start
        m = len(window)
        if start < min_history or m < min_history:
            continue
        begin = min(begin, start)
        sizes.append(m)
        end = start + block
        for j, w in enumerate((window, np.negative(window[::-1])) if mirror else (window,)):
            params[j].append(tail_params(w, tail_fraction))
            below[j][start:end] = w.searchsorted(gs[j][start:end], side="left")
    cols = [[np.array(c, dtype=float) for c in zip(*pj, strict=True)] if pj else [np.empty(0)] * 3 for pj in params]
    m_ = np.array(sizes, dtype=np.intp)
    if split < n and memory >= min_history:
        starts = np.arange(max(split, -(-min_history // block) * block), n, block)
        if len(starts):
            begin = min(begin, int(starts[0]))
            k = max(MIN_TAIL, int(tail_fraction * memory))
            full = _full_windows(gs, starts, block, memory, k, below)
            for j, (t_full, beta_full) in enumerate(full):
                share, t, beta = cols[j]
                cols[j] = [
                    np.concatenate((share, np.full(len(starts), k / memory))),
                    np.concatenate((t, t_full)),
                    np.concatenate((beta, beta_full)),
                ]
            m_ = np.concatenate((m_, np.full(len(starts), memory, dtype=np.intp)))
    out = []
    m_ = np.repeat(m_, block)[: n - begin]
    for j, gj in enumerate(gs):
        p = np.ones(n)
        out.append(p)
        if begin == n:
            continue
        share, t, beta = (np.repeat(c, block)[: n - begin] for c in cols[j])
        seg = gj[begin:]
        with np.errstate(invalid="ignore"):
            q = np.minimum(1.0, share * np.exp(np.minimum(700.0, -(seg - t) / beta)))
        # Never below the share of past rows at least as extreme: a recurring excursion is not news.
        seen = (m_ - below[j][begin:]) / m_
        p[begin:] = np.where(np.isnan(seg), 1.0, np.maximum(q, seen))
    return out


def _full_windows(
    gs: list[FloatArray], starts: np.ndarray, block: int, memory: int, k: int, below: list[np.ndarray]
) -> list[tuple[FloatArray, FloatArray]]:
    """tail_params' t and beta for the full windows g[s - memory : s] of the blocks starting at `starts`,
    sorted many at a time (gs[1], if any, is -gs[0]: its windows are the reversed negated ones), and the
    rank of each block's values in its window into `below`."""
    view = sliding_window_view(gs[0], memory)  # view[j] = g[j : j + memory]
    chunk = max(1, (1 << 20) // memory)  # windows per sort
    out = [(np.empty(len(starts)), np.empty(len(starts))) for _ in gs]
    for c0 in range(0, len(starts), chunk):
        s = starts[c0 : c0 + chunk]
        w = view[s - memory]  # a copy
        w.sort(axis=1)
        for j, wj in enumerate((w, np.negative(w[:, ::-1])) if len(gs) > 1 else (w,)):
            t = wj[:, memory - k]
            med = wj[:, memory // 2]
            mean = np.add.reduce(wj[:, memory - k :], axis=1) / k  # row by row as tail_params' 1-d sums
            out[j][0][c0 : c0 + len(s)] = t
            out[j][1][c0 : c0 + len(s)] = np.maximum(np.maximum(mean - t, 0.1 * (t - med)), 1e-9 * (np.abs(t) + 1.0))
            g, b = gs[j], below[j]
            for row, start in zip(wj, s.tolist(), strict=True):
                b[start : start + block] = row.searchsorted(g[start : start + block], side="left")
    return out


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
