"""Self-calibrated tail probabilities: each block of rows is judged against the feature's own past."""

from __future__ import annotations

import numpy as np

FloatArray = np.ndarray


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
    Rows with fewer than `min_history` past rows get probability 1.
    """
    n = len(g)
    p = np.ones(n)
    for start in range(0, n, block):
        if start < min_history:
            continue
        end = min(n, start + block)
        hist = g[max(0, start - memory) : start]
        m = len(hist)
        k = max(3, int(tail_fraction * m))
        part = np.partition(hist, (m // 2, m - k))  # one pass: the median and the tail's threshold
        top = part[m - k :]
        t = float(part[m - k])
        med = float(part[m // 2])
        spread = t - med
        beta = max(float(top.mean()) - t, 0.1 * spread, 1e-9 * (abs(t) + 1.0))
        seg = g[start:end]
        p[start:end] = np.minimum(1.0, (k / m) * np.exp(np.minimum(700.0, -(seg - t) / beta)))
    return p
