"""The online detector: an ensemble of causal features, self-calibrated tails, one alarm per incident."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from engines.anomaly import calibrate, features

FloatArray = np.ndarray


@dataclass(frozen=True)
class DetectorConfig:
    """General rules (not tuned per series): windows in rows, probabilities, suppression."""

    spike_window: int = 12  # the lagged median a spike is measured against
    shift_window: int = 6  # the trailing mean a sustained shift is measured with
    shift_baseline: int = 120  # the lagged median it is compared to
    block: int = 64  # tail calibration is refreshed every `block` rows
    memory: int = 4000  # rows of past a tail is estimated from
    tail_fraction: float = 0.02
    min_history: int = 150  # no alarm before this many rows
    alarm_probability: float = 3e-3  # combined tail probability below which a row alarms
    suppress_rows: int = 150  # after an alarm, no other for this many rows...
    escalation: float = 0.0  # ...unless its probability is below this times the last alarm's (0: never)
    period: int = 0  # seasonal period in rows (0: none)
    cycles: int = 3
    coarse_rows: tuple[int, ...] = (24, 96)  # the same features on means of this many rows too...
    coarse_steps: int = 2  # ...taken every a/coarse_steps rows (overlapping means; 1: disjoint blocks)
    novelty_window: int = 8  # coarse scales: shape novelty of the last this many blocks' worth of means (0: off)


DEFAULT = DetectorConfig()


@dataclass(frozen=True)
class Detection:
    """Per row: the anomaly score in [0, 1], the combined tail probability, and the 0/1 alarm."""

    scores: FloatArray
    probability: FloatArray
    alarms: np.ndarray


def feature_matrix(x: FloatArray, cfg: DetectorConfig, novelty: int = 0) -> list[FloatArray]:
    """The causal features, each oriented so that bigger is more anomalous.

    `novelty` > 0 adds the shape novelty of the last `novelty` rows against the last `cfg.memory` rows
    (features.novelty_distance); the coarse scales use it.
    """
    spike = np.abs(x - features.lagged_median(x, cfg.spike_window))
    base = features.lagged_mean(x, cfg.shift_baseline)
    shift = np.abs(features.trailing_mean(x, cfg.shift_window) - base)
    feats = [x, -x, spike, shift]
    if cfg.period > 0:
        reach = max(1, cfg.period // 48)  # half an hour either side at any resolution
        feats.append(features.seasonal_envelope_residual(x, cfg.period, cfg.cycles, reach))
    if novelty > 0:
        feats.append(features.novelty_distance(x, novelty, cfg.memory))
    return feats


def fine_probability(x: FloatArray, cfg: DetectorConfig, novelty: int = 0) -> FloatArray:
    """The smallest feature tail probability, Bonferroni-corrected for the number of features."""
    feats = feature_matrix(x, cfg, novelty)
    b, m, tf, h = cfg.block, cfg.memory, cfg.tail_fraction, cfg.min_history
    # The first two features are x and -x: one set of sorted windows serves both.
    probs = calibrate.tail_probabilities(x, block=b, memory=m, tail_fraction=tf, min_history=h, mirror=True)
    probs += [calibrate.tail_probability(f, block=b, memory=m, tail_fraction=tf, min_history=h) for f in feats[2:]]
    out: FloatArray = np.minimum(1.0, np.min(np.vstack(probs), axis=0) * len(feats))
    return out


def coarse_probability(x: FloatArray, cfg: DetectorConfig, a: int) -> FloatArray:
    """The same detector on means of `a` rows, taken every `a // cfg.coarse_steps` rows; other rows get 1.

    Sustained moderate changes that no single row shows stand out once noise is averaged away. The mean
    of rows i-a+1..i is taken at rows a-1, a-1+s, a-1+2s, ... (s = a // coarse_steps, counted from the first
    row), so a row's value never depends on later rows, and an overlapping mean reports a change up to
    a - s rows sooner than a disjoint block would. The feature windows are scaled so that they span the
    same time as on disjoint blocks (a shift over 6 means of `a` rows is a shift over 6·a rows). Each
    probability is multiplied by a/s, the number of means reported per `a` rows (Bonferroni), so the
    false-alarm rate per row stays that of disjoint blocks: reporting more often must not mean alarming
    more often. The coarse levels add the shape novelty of their means (`novelty_means`) to the features.
    """
    n = len(x)
    out = np.ones(n)
    s = max(1, a // max(1, cfg.coarse_steps))
    scale = a // s
    if a <= 1 or n < a + s:
        return out
    rows = np.arange(a - 1, n, s)
    means = features.trailing_mean(x, a)[rows]
    out[rows] = np.minimum(1.0, scale * fine_probability(means, coarse_config(cfg, a), novelty_means(cfg, a)))
    return out


def novelty_means(cfg: DetectorConfig, a: int) -> int:
    """The shape-novelty window on the means of `a` rows: `novelty_window` blocks of `a` rows' worth."""
    s = max(1, a // max(1, cfg.coarse_steps))
    return cfg.novelty_window * (a // s)


def coarse_config(cfg: DetectorConfig, a: int) -> DetectorConfig:
    """The settings of the detector on means of `a` rows reported every a // coarse_steps rows."""
    s = max(1, a // max(1, cfg.coarse_steps))
    scale = a // s
    return replace(
        cfg,
        spike_window=cfg.spike_window * scale,
        shift_window=cfg.shift_window * scale,
        shift_baseline=cfg.shift_baseline * scale,
        period=cfg.period // s if cfg.period % s == 0 else 0,
        min_history=max(30 * scale, cfg.min_history // s),
        block=max(8, cfg.block // s),
        memory=max(1, cfg.memory // s),
        coarse_rows=(),
    )


def combined_probability(x: FloatArray, cfg: DetectorConfig) -> FloatArray:
    """The fine and every coarse probability: the smallest, Bonferroni-corrected for their number."""
    probs = [fine_probability(x, cfg)] + [coarse_probability(x, cfg, a) for a in cfg.coarse_rows]
    out: FloatArray = np.minimum(1.0, len(probs) * np.min(np.vstack(probs), axis=0))
    return out


def suppress(probability: FloatArray, threshold: float, rows: int, escalation: float = 0.0) -> np.ndarray:
    """Alarm where probability < threshold, unless an alarm was raised in the `rows` rows before.

    Within that window a row still alarms if its probability is below `escalation` times the last alarm's
    (a much stronger event than the one that opened the window; 0 disables this); it then opens a new window.
    """
    out = np.zeros(len(probability), dtype=np.int8)
    last = -rows - 1
    last_p = 0.0
    for i in np.flatnonzero(probability < threshold).tolist():
        p = float(probability[i])
        if i - last > rows or p < escalation * last_p:
            out[i] = 1
            last, last_p = i, p
    return out


def detect(values: FloatArray, cfg: DetectorConfig = DEFAULT) -> Detection:
    """Run the detector over a series; row i's outputs depend on rows <= i only."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return Detection(np.zeros(0), np.ones(0), np.zeros(0, dtype=np.int8))
    p = combined_probability(x, cfg)
    scores = 1.0 - p
    alarms = suppress(p, cfg.alarm_probability, cfg.suppress_rows, cfg.escalation)
    return Detection(scores, p, alarms)


def rows_per_day(seconds: FloatArray, probe: int = 64) -> int:
    """The daily period in rows, from the median interval of the first `probe` timestamps (epoch seconds).

    Only the first rows are used, so the period of a row never depends on later rows; 0 when the series is
    sampled more coarsely than hourly or the interval cannot be told.
    """
    head = np.asarray(seconds[:probe], dtype=float)
    if len(head) < 3:
        return 0
    steps = np.diff(head)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return 0
    step = float(np.median(steps))
    if step <= 0 or step > 3600:
        return 0
    return round(86400.0 / step)
