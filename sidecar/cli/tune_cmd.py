"""`apex tune simulate`: run a scenario file in the tuning simulator for every policy and print a table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sidecar.cli import tune_scenario_cmd, tuner_cmd


def register(commands: Any) -> None:
    tune: argparse.ArgumentParser = commands.add_parser(
        "tune", help="the tuning engine (simulator)", description="The tuning engine: simulate scenarios."
    )
    sub = tune.add_subparsers(dest="tune_command", required=True, metavar="SUBCOMMAND")
    p = sub.add_parser(
        "simulate",
        help="run a scenario in the simulator for default, oracle, baselines and tuned",
        description="Run a scenario file in the simulator for the default configuration, the oracle (best "
        "static configuration by grid search, with hindsight), Envoy's gradient controller, Netflix "
        "Gradient2, peak-EWMA balancing and the tuned agent; print goodput, p50/p99, error rate, "
        "staleness, time to adapt and the final parameters.",
    )
    p.add_argument("--scenario", required=True, action="append", metavar="FILE", help="scenario YAML (repeatable)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--episodes", type=int, default=16, help="training episodes for the agent (default 16)")
    p.add_argument("--seed", type=int, default=0, help="agent seed (default 0)")
    p.set_defaults(run=run)
    tuner_cmd.register_tune(sub)  # strategy, freeze, unfreeze, show
    tune_scenario_cmd.register(sub)  # real processes


def run(args: argparse.Namespace) -> int:
    from engines.tune import compare
    from engines.tune.scenario import ScenarioError, load

    if args.episodes < 0:
        print("apex tune simulate: --episodes must be >= 0", file=sys.stderr)
        return 2
    try:
        scenarios = [load(path) for path in args.scenario]
    except ScenarioError as exc:
        print(f"apex tune simulate: {exc}", file=sys.stderr)
        return 2
    for i, sc in enumerate(scenarios):
        results = compare.compare(sc, episodes=args.episodes, seed=args.seed)
        if args.json:
            print(compare.as_json(sc, results))
        else:
            if i:
                print()
            print(compare.table(sc, results))
        sys.stdout.flush()
    return 0
