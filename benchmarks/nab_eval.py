"""`make bench-nab`: the detector's NAB scores on the developer subset and on synthetic series, and its speed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from engines.anomaly import detector, nab_eval, nab_score, synthetic


def find_nab() -> Path:
    """shared/ sits beside the checkout on the development machine; APEX_SHARED points elsewhere."""
    here = Path(__file__).resolve().parents[1]
    candidates = [Path(os.environ["APEX_SHARED"])] if "APEX_SHARED" in os.environ else []
    candidates += [here.parent / "shared", here.parent.parent / "shared", Path("/work/shared")]
    for c in candidates:
        if (c / "data" / "nab" / "data").is_dir():
            return c / "data" / "nab"
    raise SystemExit("NAB developer subset not found: set APEX_SHARED to the folder holding data/nab")


def synthetic_scores(seed: int, service: bool = False) -> dict[str, float]:
    """The same detector settings on synthetic series of our own, scored with the same rules.

    `service`: the telemetry-shaped corpus (bounded, autocorrelated, bursty, heavy-tailed series) instead of
    the traffic corpus.
    """
    items = synthetic.service_corpus(seed) if service else synthetic.corpus(seed)
    cfg = detector.DetectorConfig(period=synthetic.DAY)
    files = []
    quiet_alarms = 0
    for item in items:
        found = detector.detect(item.values, cfg)
        files.append((found.alarms.tolist(), item.windows))
        if not item.windows:
            quiet_alarms += int(found.alarms.sum())
    scores = nab_score.score_corpus(files)
    scores["alarms_on_quiet_series"] = float(quiet_alarms)
    return scores


def mean_scores(seeds: range, service: bool) -> dict[str, float]:
    """Each profile's score averaged over `seeds` (one seed's corpus is small: a few windows)."""
    runs = [synthetic_scores(s, service) for s in seeds]
    return {k: round(sum(r[k] for r in runs) / len(runs), 2) for k in runs[0]}


def speed(rows: int = 200_000, repeats: int = 3) -> float:
    """Points per CPU second on one long seasonal series (best of `repeats`; CPU time, so per core)."""
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    x = 100 + 30 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 3, rows)
    cfg = detector.DetectorConfig(period=288)
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        detector.detect(x, cfg)
        best = min(best, time.process_time() - started)
    return rows / best


def streaming_speed(rows: int = 30_000, repeats: int = 3, period: int = 288) -> float:
    """Points per CPU second fed one at a time to OnlineDetector (the engine's per-series path), a series
    like `speed`'s with a day of `period` rows (best of `repeats`)."""
    from engines.anomaly.online import OnlineDetector

    rng = np.random.default_rng(0)
    t = np.arange(rows)
    x = (100 + 30 * np.sin(2 * np.pi * t / period) + rng.normal(0, 3, rows)).tolist()
    cfg = detector.DetectorConfig(period=period)
    best = float("inf")
    for _ in range(repeats):
        d = OnlineDetector(cfg)
        started = time.process_time()
        for v in x:
            d.push(v)
        best = min(best, time.process_time() - started)
    return rows / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="NAB data root (default: the shared developer subset)")
    parser.add_argument("--windows", type=Path, help="labels file (default: its combined_windows.json)")
    parser.add_argument("--out", type=Path, help="also write the scored files here")
    parser.add_argument("--speed", action="store_true", help="only the speeds (batch, streamed), in seconds")
    args = parser.parse_args(argv)
    if args.speed:
        speeds = {
            "detector_points_per_cpu_second_200k": round(speed()),
            "detector_streamed_points_per_cpu_second_30k": round(streaming_speed()),
            "detector_streamed_points_per_cpu_second_30k_day_1440": round(streaming_speed(period=1440)),
        }
        print(json.dumps(speeds, indent=2))
        return 0
    nab = None if args.data and args.windows else find_nab()
    data = args.data or nab / "data"  # type: ignore[operator]
    windows = args.windows or nab / "labels" / "combined_windows.json"  # type: ignore[operator]
    cpu = time.process_time()
    result = nab_eval.evaluate(data, windows, args.out)
    cpu = time.process_time() - cpu
    report = {
        "nab_dev": {k: round(v, 2) for k, v in result.scores.items()},
        "nab_dev_files": result.files,
        "nab_dev_windows": result.windows,
        "synthetic": {k: round(v, 2) for k, v in synthetic_scores(seed=0).items()},
        "synthetic_seeds_0_7_mean": mean_scores(range(8), service=False),
        "synthetic_service_seeds_0_7_mean": mean_scores(range(8), service=True),
        "detector_points_per_cpu_second_dev": round(result.rows / max(result.detect_seconds, 1e-9)),
        "detector_points_per_cpu_second_200k": round(speed()),
        "detector_streamed_points_per_cpu_second_30k": round(streaming_speed()),
        "eval_cpu_seconds": round(cpu, 1),
    }
    print(json.dumps(report, indent=2))
    print(f"standard={result.scores['standard']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
