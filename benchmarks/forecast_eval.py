"""`python -m benchmarks.forecast_eval`: forecast accuracy on the developer set against naive and
seasonal naive, a rolling-origin backtest inside its training parts, and the speed on synthetic
traffic (400 series x 1,000 points, horizon 48) on one core."""

from __future__ import annotations

import os

# one core: BLAS threads off before numpy loads, and the process pinned to one CPU below
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from engines.forecast import backtest, evaluate, synthetic, wide_csv  # noqa: E402


def find_dev() -> Path | None:
    roots = [Path(os.environ["APEX_SHARED"])] if "APEX_SHARED" in os.environ else []
    roots += [Path(__file__).resolve().parents[1].parent / "shared", Path("/work/shared")]
    return next((r / "data" / "forecast-dev" for r in roots if (r / "data" / "forecast-dev").is_dir()), None)


def table(title: str, result: evaluate.Result) -> None:
    print(f"\n{title}: {len(result.mase['ours'])} series")
    print(f"  {'method':<16}{'sMAPE':>9}{'MASE':>9}")
    for method, label in (("ours", "ours"), ("naive", "naive"), ("snaive", "seasonal_naive")):
        print(f"  {label:<16}{result.mean('smape', method):>9.3f}{result.mean('mase', method):>9.4f}")
    print(f"  mase_ratio={result.mase_ratio:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forecast_eval", description=__doc__)
    parser.add_argument("--dev", type=Path, default=None, help="forecast-dev directory (default: found in shared/)")
    parser.add_argument("--series", type=int, default=400, help="synthetic series for the speed run (default 400)")
    parser.add_argument("--length", type=int, default=1000, help="training points per series (default 1000)")
    parser.add_argument("--horizon", type=int, default=48)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    dev = args.dev or find_dev()
    if dev is None or not dev.is_dir():
        print("forecast-dev data not found (pass --dev or set APEX_SHARED)", file=sys.stderr)
        return 2
    train = wide_csv.read(dev / "Dev-Hourly-train.csv")
    test = wide_csv.read(dev / "Dev-Hourly-test.csv")
    started = time.perf_counter()
    table(f"developer set ({dev}), horizon 48, season 24", evaluate.evaluate(train, test, 48, 24))
    print(f"  seconds={time.perf_counter() - started:.1f}")

    ours, base = [], []
    for sid, y in train.items():
        for fold in backtest.backtest(sid, y, 48, 24, origins=2).folds:
            ours.append(fold.mase_ours)
            base.append(fold.mase_snaive)
    print(f"\nrolling-origin backtest inside the developer training parts: {len(ours)} folds (2 origins, h 48)")
    print(
        f"  MASE ours={np.mean(ours):.4f} seasonal_naive={np.mean(base):.4f} ratio={np.mean(ours) / np.mean(base):.4f}"
    )

    h = args.horizon
    data = synthetic.panel(args.series, args.length + h, seed=2026)
    syn_train = {sid: y[: args.length] for sid, y in data.items()}
    syn_test = {sid: y[args.length :] for sid, y in data.items()}
    started, cpu = time.perf_counter(), time.process_time()
    result = evaluate.evaluate(syn_train, syn_test, h, 24)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    table(f"synthetic traffic, {args.series} series x {args.length} points, horizon {h}, season 24", result)
    print(
        f"\nspeed: {args.series} series x {args.length} points, horizon {h}, one core: {elapsed:.1f} s wall, "
        f"{cpu:.1f} s CPU ({1000 * cpu / args.series:.0f} ms CPU per series; target <= 60 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
