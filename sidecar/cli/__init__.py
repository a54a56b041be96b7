"""The `apex` command line: one module per command group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sidecar.cli import (
    admin_cmd,
    bench_cmd,
    cache_cmd,
    clusters_cmd,
    control_cmd,
    demo_cmd,
    eval_cmd,
    events_cmd,
    forecast_cmd,
    policy_cmd,
    routes_cmd,
    sidecar_cmd,
    telemetry_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apex", description="Apex Mesh: a self-tuning gRPC service mesh.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sidecar_cmd.register(commands)
    admin_cmd.register(commands)
    demo_cmd.register(commands)
    cache_cmd.register(commands)
    routes_cmd.register(commands)
    clusters_cmd.register(commands)
    control_cmd.register(commands)
    policy_cmd.register(commands)
    bench_cmd.register(commands)
    telemetry_cmd.register(commands)
    forecast_cmd.register(commands)
    eval_cmd.register(commands)
    events_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
