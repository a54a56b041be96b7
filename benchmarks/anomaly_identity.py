"""Before/after check for speed work on the detector: its outputs must stay bit-identical.

    .venv/bin/python -m benchmarks.anomaly_identity --save FILE    # on the code before a change
    .venv/bin/python -m benchmarks.anomaly_identity --check FILE   # on the code after it

Runs `detect()` on every NAB developer file (its daily period from its timestamps, as `apex eval nab`),
on both synthetic corpora (seeds 0-7), and on seeded random series under non-default settings (no period,
disjoint and overlapping coarse means, short memory and blocks, escalation, no shape novelty), and
`OnlineDetector` one point at a time on a few of them; `--check` compares scores, probabilities and alarms
bit for bit (float64 bytes) with the saved ones and names every series that differs. Exit status 1 if any.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engines.anomaly import detector, nab_data, nab_eval, synthetic
from engines.anomaly.detector import DetectorConfig
from engines.anomaly.online import OnlineDetector

from .nab_eval import find_nab


def _random_cases() -> Iterator[tuple[str, np.ndarray, DetectorConfig]]:
    settings = [
        DetectorConfig(),
        DetectorConfig(period=96, coarse_steps=1),
        DetectorConfig(period=50, coarse_steps=3, block=16, memory=300, min_history=60, coarse_rows=(8, 24)),
        DetectorConfig(period=288, novelty_window=0, escalation=1e-3, suppress_rows=40),
        DetectorConfig(period=24, coarse_rows=(6, 13), novelty_window=3, memory=200, block=7, min_history=40),
    ]
    for seed, cfg in enumerate(settings):
        rng = np.random.default_rng(100 + seed)
        rows = 6000
        t = np.arange(rows)
        x = 40 + 10 * np.sin(2 * np.pi * t / max(cfg.period, 97)) + rng.standard_t(3, rows)
        x[rows // 2 :] += 5
        x[rng.integers(0, rows, 10)] += 60
        x = np.round(x, 1)  # ties in the sorted windows
        yield f"random/{seed}", x, cfg


def cases() -> Iterator[tuple[str, np.ndarray, DetectorConfig]]:
    nab = find_nab()
    for key, path in nab_data.list_files(nab / "data"):
        series = nab_data.read_series(path, key)
        head = [nab_data.parse_timestamp(t).timestamp() for t in series.timestamps[:64]]
        period = detector.rows_per_day(np.asarray(head))
        yield f"nab/{key}", np.asarray(series.values, dtype=float), nab_eval._with_period(detector.DEFAULT, period)
    for seed in range(8):
        for item in synthetic.corpus(seed):
            yield f"traffic/{seed}/{item.name}", item.values, DetectorConfig(period=synthetic.DAY)
        for item in synthetic.service_corpus(seed):
            yield f"service/{seed}/{item.name}", item.values, DetectorConfig(period=synthetic.DAY)
    yield from _random_cases()


STREAMED = ("nab/realKnownCause/nyc_taxi.csv", "traffic/0/", "service/0/", "random/")


def outputs() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, x, cfg in cases():
        found = detector.detect(x, cfg)
        out[f"{name}|scores"] = found.scores
        out[f"{name}|probability"] = found.probability
        out[f"{name}|alarms"] = found.alarms
        if name.startswith(STREAMED) and (name.startswith("random/") or len(x) > 3000):
            d = OnlineDetector(cfg)
            streamed = np.array([d.push(v)[1] for v in x.tolist()])
            out[f"{name}|streamed_probability"] = streamed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the outputs here (.npz)")
    group.add_argument("--check", type=Path, help="compare the outputs with these (.npz)")
    args = parser.parse_args(argv)
    now = outputs()
    if args.save:
        np.savez_compressed(args.save, **now)  # type: ignore[arg-type]
        print(f"saved {len(now)} arrays to {args.save}")
        return 0
    saved = np.load(args.check)
    differ = sorted(set(saved.files) ^ set(now))
    for key in sorted(set(saved.files) & set(now)):
        a, b = saved[key], now[key]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            differ.append(key)
    series = len({k.split("|")[0] for k in now})
    if differ:
        print(f"{len(differ)} of {len(now)} arrays differ:", *differ[:40], sep="\n  ")
        return 1
    print(f"identical: {len(now)} arrays over {series} series (scores, probabilities, alarms, streamed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
