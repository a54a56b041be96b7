"""`apex eval`: evaluation commands on data in public formats (`apex eval forecast`; `nab` when present)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "eval", help="evaluate the engines on held-out data", description="Evaluation commands."
    )
    sub = p.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    f: argparse.ArgumentParser = sub.add_parser(
        "forecast",
        help="forecast M4-style wide CSVs and score sMAPE / MASE against naive and seasonal naive",
        description="Forecast each series' next H values from its training values (wide CSVs as in M4: a "
        "header row, then an id and the values per row; empty cells ignored), print sMAPE and MASE (M4's "
        "definitions, MASE scaled by the in-sample seasonal-naive error with period M) for ours, naive and "
        "seasonal naive; the last line is mase_ratio=R (ours / seasonal naive, mean MASE).",
    )
    f.add_argument("--train", required=True, metavar="FILE", help="training series (wide CSV)")
    f.add_argument("--test", required=True, metavar="FILE", help="held-out continuations (wide CSV)")
    f.add_argument("--horizon", required=True, type=int, metavar="H", help="values to forecast per series")
    f.add_argument("--season", required=True, type=int, metavar="M", help="seasonal period (e.g. 24 for hourly)")
    f.add_argument("--out", metavar="DIR", help="write the forecasts to DIR/forecasts.csv (and models.csv)")
    f.set_defaults(run=run_forecast)
    # `apex eval nab` lives in its own module (the anomaly engine's); registered when present.
    if importlib.util.find_spec("sidecar.cli.eval_nab") is not None:
        importlib.import_module("sidecar.cli.eval_nab").register(sub)


def run_forecast(args: argparse.Namespace) -> int:
    import numpy as np

    from engines.forecast import evaluate, wide_csv

    def fail(message: str) -> int:
        print(f"apex eval forecast: {message}", file=sys.stderr)
        return 2

    if args.horizon < 1:
        return fail(f"--horizon must be >= 1, got {args.horizon}")
    if args.season < 1:
        return fail(f"--season must be >= 1, got {args.season}")
    read_notes: list[str] = []
    try:
        train = wide_csv.read(args.train, read_notes)
        test = wide_csv.read(args.test, read_notes)
    except wide_csv.SeriesFileError as exc:
        return fail(str(exc))
    started = time.perf_counter()
    try:
        with np.errstate(all="ignore"):  # overflow on absurd values is handled (not scored, noted), not warned
            result = evaluate.evaluate(train, test, args.horizon, args.season)
    except evaluate.EvalError as exc:
        return fail(f"{exc} (train {args.train}, test {args.test})")
    elapsed = time.perf_counter() - started
    for note in read_notes + result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            wide_csv.write(out / "forecasts.csv", result.forecasts)
            (out / "models.csv").write_text(
                "id,model\n" + "".join(f"{sid},{model}\n" for sid, model in result.models.items()), encoding="utf-8"
            )
        except OSError as exc:
            return fail(f"cannot write to {out}: {exc}")
    scored = len(result.mase["ours"])
    print(f"series={scored} horizon={args.horizon} season={args.season} seconds={elapsed:.1f}")
    print(f"{'method':<16}{'sMAPE':>10}{'MASE':>10}")
    for method, label in (("ours", "ours"), ("naive", "naive"), ("snaive", "seasonal_naive")):
        print(f"{label:<16}{result.mean('smape', method):>10.3f}{result.mean('mase', method):>10.4f}")
    print(f"mase_ratio={result.mase_ratio:.4f}")
    return 0
