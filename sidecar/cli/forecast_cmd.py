"""`apex forecaster`: the forecasting engine (telemetry in; predictions, events, preventive policy changes out)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sidecar.cli import engine_cmd, forecast_show


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "forecaster",
        help="run the forecasting engine",
        description="Read telemetry windows into per-service series, predict traffic spikes, capacity "
        "shortages and SLO degradation, publish them as events, and change policies through the control "
        "plane ahead of them (reverted when the prediction has passed). --dry-run patches nothing.",
    )
    engine_cmd.add_source_args(p, group="forecaster", lag=3.0, listener_help="listener(s) counting as a service's load")
    p.add_argument("--resolution", type=int, default=60, choices=(1, 60, 3600),
                   help="seconds per point of the series forecasts use (default 60)")  # fmt: skip
    p.add_argument("--history", type=int, default=240, help="points of history forecasts see (default 240)")
    p.add_argument("--reselect-every", type=float, default=600.0,
                   help="seconds between model (and period) re-selections per series (default 600)")
    p.add_argument("--horizon", type=int, default=30, help="points ahead to forecast (default 30)")
    p.add_argument("--min-points", type=int, default=20, help="points of history before predicting (default 20)")
    p.add_argument("--ratio", type=float, default=2.0, help="a spike is rate > RATIO x its baseline (default 2)")
    p.add_argument("--min-rate", type=float, default=1.0, help="calls/s below which no spike/shortage is predicted")
    p.add_argument("--slo-p99", type=float, default=0.5, help="p99 latency SLO in seconds (default 0.5)")
    p.add_argument("--slo-error-rate", type=float, default=0.05, help="error-rate SLO (default 0.05)")
    p.add_argument("--evaluate-every", type=float, default=10.0, help="seconds between evaluations (default 10)")
    p.add_argument("--snapshot-every", type=float, default=30.0, help="seconds between snapshots (default 30)")
    p.add_argument("--cooldown", "--hold", dest="hold", type=float, default=60.0,
                   help="seconds after a prediction's time before its actions are reverted (default 60)")  # fmt: skip
    p.add_argument("--max-ttl", type=float, default=300.0, help="cache TTLs are never raised beyond this")
    p.add_argument("--max-changes", type=int, default=10, help="policy changes per service per 5 min (default 10)")
    p.add_argument("--dry-run", action="store_true", help="publish predictions and planned actions, patch nothing")
    p.set_defaults(run=run)

    g: argparse.ArgumentParser = commands.add_parser(
        "forecast", help="forecasting tools", description="Forecasting tools (the engine is `apex forecaster`)."
    )
    sub = g.add_subparsers(dest="forecast_command", required=True, metavar="WHAT")
    b: argparse.ArgumentParser = sub.add_parser(
        "backtest",
        help="rolling-origin backtest of the per-series model choice on a CSV",
        description="From several origins inside each series, choose the model on the history before the "
        "origin, forecast the horizon and score it (MASE) against what followed, beside seasonal naive. "
        "FILE is a wide CSV (M4 layout: header, then id and values per row) or a timestamp,value CSV.",
    )
    b.add_argument("file", metavar="FILE", help="series file")
    b.add_argument("--horizon", type=int, default=48, help="values ahead (default 48)")
    b.add_argument("--season", type=int, default=24, help="seasonal period of the baseline (default 24)")
    b.add_argument("--origins", type=int, default=3, help="backtest origins per series (default 3)")
    b.add_argument("--step", type=int, default=0, help="values between origins (default: the horizon)")
    b.add_argument("--series", action="append", default=None, help="only these series ids")
    b.set_defaults(run=run_backtest)
    forecast_show.register(sub)


def run_backtest(args: argparse.Namespace) -> int:
    import numpy as np

    from engines.forecast import backtest, wide_csv

    if args.horizon < 1 or args.season < 1 or args.origins < 1 or args.step < 0:
        print("apex forecast backtest: --horizon, --season and --origins must be >= 1", file=sys.stderr)
        return 2
    try:
        series, resolution = backtest.read_series_file(args.file)
    except wide_csv.SeriesFileError as exc:
        print(f"apex forecast backtest: {exc}", file=sys.stderr)
        return 2
    wanted = set(args.series or series)
    unknown = wanted - set(series)
    if unknown:
        print(f"apex forecast backtest: {args.file}: no series {sorted(unknown)[:5]}", file=sys.stderr)
        return 2
    ours, base = [], []
    print(f"{'series':<14}{'len':>6}{'folds':>6}{'MASE':>9}{'snaive':>9}{'ratio':>8}{'cover':>7}  models")
    for sid, y in series.items():
        if sid not in wanted:
            continue
        r = backtest.backtest(sid, y, args.horizon, args.season, args.origins, args.step or None, resolution)
        if not r.folds:
            print(f"{sid:<14}{len(y):>6}     0  (too short for a fold)")
            continue
        mo = float(np.mean([f.mase_ours for f in r.folds]))
        mb = float(np.mean([f.mase_snaive for f in r.folds]))
        cover = float(np.nanmean([f.covered for f in r.folds]))
        ours.append(mo)
        base.append(mb)
        models = ",".join(f.model for f in r.folds)
        print(f"{sid:<14}{len(y):>6}{len(r.folds):>6}{mo:>9.3f}{mb:>9.3f}{r.ratio:>8.3f}{cover:>7.2f}  {models}")
    if not ours:
        print("apex forecast backtest: no series long enough for a fold", file=sys.stderr)
        return 1
    print(f"mean MASE ours={np.mean(ours):.4f} seasonal_naive={np.mean(base):.4f}")
    print(f"mase_ratio={np.mean(ours) / np.mean(base):.4f}")
    return 0


def config(args: argparse.Namespace) -> Any:
    """The RunnerConfig the flags describe (ValueError names what is wrong)."""
    from engines.forecast.actions import ActionRules
    from engines.forecast.engine import EngineConfig
    from engines.forecast.predict import Rules
    from engines.forecast.runner import RunnerConfig

    rules = Rules(spike_k=args.ratio, min_rate=args.min_rate, slo_p99=args.slo_p99,
                  slo_error_rate=args.slo_error_rate, min_points=args.min_points)  # fmt: skip
    engine = EngineConfig(resolution_s=args.resolution, history=args.history, horizon=args.horizon, rules=rules,
                          reselect_every=args.reselect_every)
    acts = ActionRules(hold_s=args.hold, max_ttl=args.max_ttl, max_changes=args.max_changes)
    source = engine_cmd.source_config(args)
    if args.evaluate_every <= 0 or args.snapshot_every <= 0:
        raise ValueError("--evaluate-every and --snapshot-every must be > 0")
    return RunnerConfig(evaluate_every=args.evaluate_every, snapshot_every=args.snapshot_every,
                        dry_run=args.dry_run, engine=engine, actions=acts, **source)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    def make(cfg: Any, token: str | None) -> Any:
        from engines.forecast.runner import Runner

        return Runner(args.redis, args.control_plane, cfg, token=token)

    def banner(cfg: Any) -> str:  # what it reads, what it may change, and how
        mode = "dry run: predicting and planning, patching nothing" if args.dry_run else "acting"
        return (f"apex forecaster: reading telemetry from {args.redis} (listeners {', '.join(sorted(cfg.listeners))}),"
                f" {mode} through the control plane at {args.control_plane}: spikes over {args.ratio:g}x the "
                f"baseline, shortages and SLO trends (p99 {args.slo_p99:g}s) {args.horizon} x {args.resolution}s "
                "ahead")  # fmt: skip

    return engine_cmd.run("forecaster", args, config, make, banner)
