"""The streamed tails' building blocks against what they replicate: numpy's sums, calibrate's windows and tails."""

from __future__ import annotations

import numpy as np
import pytest

from engines.anomaly import calibrate
from engines.anomaly.detector import DetectorConfig
from engines.anomaly.online_list_tail import ListMirror, ListTail, pairwise_sum
from engines.anomaly.online_tail import Block, Chain, Tail, TailGroup


def test_pairwise_sum_adds_as_numpy_does() -> None:
    # Lengths across numpy's cases (< 8, blocks of 8 up to 128, halves beyond), magnitudes that make the order of
    # the additions show in the last bits, sorted runs as the tails sum them.
    rng = np.random.default_rng(5)
    differ = 0
    for trial in range(3000):
        n = int(rng.integers(1, 300))
        a = rng.normal(size=n + 3) * 10.0 ** rng.integers(-6, 9, size=n + 3)
        if trial % 2:
            a.sort()
        values = a.tolist()
        differ += pairwise_sum(values, 3, n) != float(np.add.reduce(a[3:]))
    assert differ == 0


def _feed(tails: list[Tail], series: np.ndarray, cfg: DetectorConfig, together: bool) -> list[tuple]:
    """Each tail's (params, g0) at every block start, the series' columns pushed row by row."""
    block = Block(cfg.memory + 2 * cfg.block, series.shape[1], slack=8 * cfg.block)
    chain = Chain(len(tails), 1, 3)
    group = TailGroup(tails, list(range(len(tails))))
    out = []
    for i, row in enumerate(series.tolist()):
        if i % cfg.block == 0:
            block.flush()
            if not (together and group.refresh(i, block, chain, cfg)):
                for f, tail in enumerate(tails):
                    tail.refresh(i, block, f, chain, cfg)
            out.append([(t.params, t.g0, list(t.sorted)) for t in tails])
        block.pending.extend(row)
    return out


def test_list_and_together_tails_equal_calibrate_windows() -> None:
    # Three features with ties and zeros, past the memory many times: the sorted windows, tail parameters and
    # cutoffs of numpy's slide one feature at a time, of the 2-d slide, and of sorted lists are the same, and
    # the windows are calibrate's (the rows before the block, at most `memory` of them, sorted).
    rng = np.random.default_rng(9)
    rows = 1500
    series = np.round(np.column_stack([rng.normal(0, 1, rows), np.abs(rng.standard_t(3, rows)), rng.random(rows)]), 1)
    series[rng.random(rows) < 0.3, 1] = 0.0
    cfg = DetectorConfig(block=16, memory=200, min_history=40)
    one = _feed([Tail(0) for _ in range(3)], series, cfg, together=False)
    two = _feed([Tail(0) for _ in range(3)], series, cfg, together=True)
    lists = _feed([ListTail(0) for _ in range(3)], series, cfg, together=False)
    assert one == two == lists
    for b, tails in enumerate(one):
        start = b * cfg.block
        for f, (_, _, window) in enumerate(tails):
            assert window == sorted(series[max(0, start - cfg.memory) : start, f].tolist())
    assert sum(t[0] is not None for tails in one for t in tails) > 200  # tails were estimated, not only None


def test_tail_params_as_calibrate() -> None:
    rng = np.random.default_rng(2)
    cfg = DetectorConfig(block=50, memory=4000, min_history=150)
    series = rng.normal(size=(5000, 1))
    tails = _feed([Tail(0)], series, cfg, together=False)
    for b, ((params, _, window),) in enumerate(tails):
        if params is not None:
            assert params == calibrate.tail_params(np.array(window), cfg.tail_fraction), b


@pytest.mark.parametrize("kind", ["heavy", "levels"])
def test_list_mirror_reads_the_tail_of_minus_x_off_that_of_x(kind: str) -> None:
    # ListMirror (-x from x's list, no copy) against a ListTail slid on -x itself: the same parameters, cutoffs,
    # "already seen" shares and smallest probabilities, with ties and zeros of both signs; on few levels the top
    # values tie and the tail's spread is a tenth of its distance to the median.
    rng = np.random.default_rng(4)
    rows = 1200
    x = np.round(rng.standard_t(4, rows), 1) if kind == "heavy" else rng.integers(-9, 3, rows) / 2
    x[rng.random(rows) < 0.1] = -0.0
    cfg = DetectorConfig(block=8, memory=150, min_history=30)
    chain = Chain(6, 2, 3)
    of, mirror, direct = ListTail(0), ListMirror(0), ListTail(0)
    plus = Block(cfg.memory + 2 * cfg.block, 1, slack=8 * cfg.block)
    minus = Block(cfg.memory + 2 * cfg.block, 1, slack=8 * cfg.block)
    checked = 0
    for i, v in enumerate(x.tolist()):
        if i % cfg.block == 0:
            plus.flush()
            minus.flush()
            of.refresh(i, plus, 0, chain, cfg)
            mirror.mirror(of, i, chain, cfg)
            direct.refresh(i, minus, 0, chain, cfg)
            assert (mirror.params, mirror.g0) == (direct.params, direct.g0), i
            if direct.params is not None:
                for g in (-v, v, 0.0, direct.g0, direct.params[1] + direct.params[2]):
                    assert mirror.seen(g) == direct.seen(g)
                    assert mirror.least(g, 0.5) == direct.least(g, 0.5)
                    checked += 1
        plus.pending.append(v)
        minus.pending.append(-v)
    assert checked > 500
