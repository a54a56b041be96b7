"""NAB trials without re-running the detector: each feature's tail probability per level, kept, recombined.

`python -m benchmarks.nab_trials` re-scores round 5's trials (benchmarks/RESULTS.md, "Anomaly detection"):
the kept detector, then each trial as extra or replacing features on the rows or the coarse scales, or as
one more channel, on the NAB developer subset (per category, and which windows and false alarms moved)
and on the two synthetic corpora (the seeds used for decisions). A trial is a function of one series'
`Levels` that returns its combined probability; `combine()` of the unchanged levels is bit-identical to
`detector.combined_probability` (tests/unit/benchmarks/test_nab_trials.py), so a trial differs from the
detector only by what it changes. Round 5's trials and their features are in benchmarks/nab_round5.py
(not in engines/anomaly: none was kept).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

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


FEATURES = ("x", "-x", "spike", "shift", "envelope", "novelty")


def feature_index(cfg: detector.DetectorConfig, name: str, novelty: bool) -> tuple[int, ...]:
    """Where feature `name` is in a level's list (detector.feature_matrix's order), () if it has none."""
    names = ["x", "-x", "spike", "shift"] + (["envelope"] if cfg.period > 0 else []) + (["novelty"] if novelty else [])
    return (names.index(name),) if name in names else ()


def coarse_index(lv: Levels, name: str) -> dict[int, tuple[int, ...]]:
    return {a: feature_index(c.cfg, name, novelty=True) for a, c in lv.coarse.items()}


Trial = Callable[[Levels], FloatArray]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    from benchmarks.nab_round5 import TRIALS  # the trials use this module's harness

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
