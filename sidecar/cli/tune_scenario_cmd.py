"""`apex tune scenario`: run a scenario file with real processes (Redis, control plane, sidecar, upstreams, load).

The runner lives in the benchmarks package (benchmarks/scenario_run), imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "scenario",
        help="run a scenario with real processes for default and tuned (and the baselines)",
        description="Run a scenario file with real processes: a Redis, the control plane, one sidecar, one "
        "upstream process per endpoint behaving as the file says, an open-loop load generator and the tuner "
        "(pushing through the control plane). Prints goodput, p50/p99, error rate, staleness, time to adapt "
        "and the final parameters per policy; the last line is `goodput_gain=R p99_gain=R` (tuned / default; "
        "p99 as default / tuned).",
    )
    p.add_argument("--scenario", required=True, metavar="FILE", help="scenario YAML")
    p.add_argument("--json", action="store_true", help="print JSON (with the gains) instead of a table")
    p.add_argument("--baselines", action="store_true",
                   help="also run the oracle (the simulator's best static configuration), the sidecar's adaptive "
                   "limit (gradient2) and peak-EWMA balancing")  # fmt: skip
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--time-scale", type=float, metavar="X", help="multiply every time on the scenario's timeline by X"
    )
    length.add_argument("--duration", metavar="SECONDS", help="run the scenario's timeline in this long (e.g. 20s)")
    p.add_argument(
        "--rate-scale",
        type=float,
        default=1.0,
        metavar="Y",
        help="multiply arrival rates and endpoint capacities by Y (same utilisation, less CPU); default 1",
    )
    p.add_argument("--sidecars", type=int, default=2, help="instances of the service, each with a sidecar (default 2)")
    p.add_argument("--episodes", type=int, default=16, help="simulator training episodes for the agent (default 16)")
    p.add_argument(
        "--tuner",
        choices=("auto", "engine", "inprocess"),
        default="auto",
        help="who tunes: the tuning engine process (apex tuner), the pure Tuner in this process, or auto: the "
        "engine where it is installed",
    )
    p.add_argument("--seed", type=int, default=0, help="load generator and agent seed (default 0)")
    p.add_argument("--warmup", type=float, default=2.0, metavar="SECONDS",
                   help="seconds of load before the scenario's clock starts, not counted (default 2)")  # fmt: skip
    p.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"apex tune scenario: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from engines.tune import compare
    from engines.tune.scenario import ScenarioError, load, parse_duration

    try:
        from benchmarks.scenario_run.runner import Options, Runner
    except ImportError:  # installed without the benchmarks package (e.g. the sidecar image)
        return _fail("the benchmarks package is not installed here (run it from a source checkout)")
    try:
        sc = load(args.scenario)
    except ScenarioError as exc:
        return _fail(str(exc))
    time_scale = 1.0
    if args.duration is not None:
        try:
            seconds = parse_duration(args.duration, "--duration")
        except ScenarioError as exc:
            return _fail(str(exc))
        if seconds < 2:
            return _fail(f"--duration: at least 2s, got {args.duration}")
        time_scale = seconds / sc.duration
    elif args.time_scale is not None:
        time_scale = args.time_scale
    for name, value in (("--time-scale", time_scale), ("--rate-scale", args.rate_scale)):
        if not (math.isfinite(value) and value > 0):
            return _fail(f"{name}: must be a positive number, got {value:g}")
    if args.episodes < 0:
        return _fail("--episodes must be >= 0")
    if not 1 <= args.sidecars <= 8:
        return _fail(f"--sidecars: between 1 and 8, got {args.sidecars}")
    if not (math.isfinite(args.warmup) and args.warmup >= 0):
        return _fail(f"--warmup: must be a number >= 0, got {args.warmup:g}")
    opts = Options(time_scale=time_scale, rate_scale=args.rate_scale, seed=args.seed, episodes=args.episodes,
                   baselines=args.baselines, sidecars=args.sidecars, tuner=args.tuner, warmup=args.warmup)  # fmt: skip
    try:
        with Runner(args.scenario, opts, progress=lambda m: print(m, file=sys.stderr, flush=True)) as runner:
            records = runner.compare()
            scaled = runner.sc
            tuned = runner.describe_tuned()
    except RuntimeError as exc:  # a process that did not start or died: its log is named in the message
        print(f"apex tune scenario: {exc}", file=sys.stderr)
        return 1
    results = [r.result for r in records]
    d, t = results[0], results[-1]
    goodput_gain = t.goodput / max(d.goodput, 1e-9)
    p99_gain = d.p99 / max(t.p99, 1e-9)
    if args.json:
        doc = json.loads(compare.as_json(scaled, results))
        doc |= {"real_processes": True, "time_scale": time_scale, "rate_scale": args.rate_scale,
                "goodput_gain": round(goodput_gain, 3), "p99_gain": round(p99_gain, 3), "tuned_by": tuned,
                "decisions": records[-1].decisions}  # fmt: skip
        print(json.dumps(doc, indent=2))
        return 0
    print(f"real processes: {sc.name} at time scale {time_scale:g} ({scaled.duration:g} s), rate scale "
          f"{args.rate_scale:g}, {args.sidecars} sidecar(s); {tuned}")  # fmt: skip
    print(compare.table(scaled, results))  # its last line: goodput_gain=R p99_gain=R
    return 0
