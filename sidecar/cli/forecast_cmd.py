"""`apex forecaster`: run the forecasting engine (telemetry in, preventive policy changes out)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "forecaster",
        help="run the forecasting engine",
        description="Read telemetry windows, forecast each service's call rate, and raise cache TTLs "
        "through the control plane ahead of a predicted spike.",
    )
    p.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help="Redis URL (default $APEX_REDIS_URL)")
    p.add_argument(
        "--control-plane",
        default=os.environ.get("APEX_CONTROL_PLANE"),
        metavar="ADDR",
        help="control plane address (default $APEX_CONTROL_PLANE)",
    )
    p.add_argument("--listener", action="append", default=None, help="listener(s) counting as a service's load")
    p.add_argument("--horizon", type=int, default=30, help="windows ahead to forecast (default 30)")
    p.add_argument("--ratio", type=float, default=1.5, help="forecast/current ratio that is a spike (default 1.5)")
    p.add_argument("--min-rate", type=float, default=5.0, help="calls per window below which nothing is done")
    p.add_argument("--cooldown", type=float, default=60.0, help="seconds between actions per service")
    p.add_argument("--max-ttl", type=float, default=300.0, help="cache TTLs are never raised beyond this")
    p.add_argument("--log-level", default=os.environ.get("APEX_LOG_LEVEL", "INFO"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import uvloop

    from engines.forecast.decide import SpikeRule
    from engines.forecast.runner import Runner
    from sidecar.cli.term import SafeFormatter

    handler = logging.StreamHandler(sys.stderr)  # service names come from telemetry: escape what is logged
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if not args.redis or not args.control_plane:
        print("apex forecaster: --redis and --control-plane are required", file=sys.stderr)
        return 2
    try:
        rule = SpikeRule(horizon=args.horizon, ratio=args.ratio, min_rate=args.min_rate, cooldown=args.cooldown,
                         max_ttl=args.max_ttl)  # fmt: skip
    except ValueError as exc:
        print(f"apex forecaster: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        runner = Runner(args.redis, args.control_plane, frozenset(args.listener or ["inbound"]), rule)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await runner.run(stop)
        finally:
            await runner.close()

    uvloop.run(main())
    return 0
