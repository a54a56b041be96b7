"""What `apex forecaster` and `apex tuner` share: their Redis, control-plane and consumer-group flags, the
checks of those flags, logging, and running an engine until SIGTERM / SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, Protocol


class Runner(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...

    async def close(self) -> None: ...


def add_source_args(p: argparse.ArgumentParser, *, group: str, lag: float, listener_help: str) -> None:
    """--redis, --control-plane, --token: where the engine reads and writes; --listener, --group, --consumer,
    --lag, --claim-idle: how it reads the telemetry streams; --log-level."""
    p.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help="Redis URL (default $APEX_REDIS_URL)")
    p.add_argument("--control-plane", default=os.environ.get("APEX_CONTROL_PLANE"), metavar="ADDR",
                   help="control plane address (default $APEX_CONTROL_PLANE)")  # fmt: skip
    p.add_argument("--token", default=None, metavar="REF",
                   help="control-plane token as a reference, env:NAME or file:PATH (default $APEX_TOKEN_FILE / "
                        "$APEX_TOKEN); the audit records its principal")  # fmt: skip
    p.add_argument("--listener", action="append", default=None, help=f"{listener_help} (default inbound)")
    p.add_argument("--group", default=group,
                   help=f"consumer group, also the name its saved state is kept under (default {group})")  # fmt: skip
    p.add_argument("--consumer", default=None, help="consumer name, stable across restarts (default: hostname)")
    p.add_argument("--lag", type=float, default=lag,
                   help=f"seconds a second stays open for late windows (default {lag:g})")  # fmt: skip
    p.add_argument("--claim-idle", type=float, default=30.0,
                   help="seconds before a dead consumer's pending entries are claimed (default 30)")  # fmt: skip
    p.add_argument("--log-level", default=os.environ.get("APEX_LOG_LEVEL", "INFO"))


def source_config(args: argparse.Namespace) -> dict[str, Any]:
    """The RunnerConfig fields the shared flags give (ValueError names a bad one)."""
    if args.lag < 0 or args.claim_idle < 0:
        raise ValueError("--lag and --claim-idle must be >= 0")
    extra = {"consumer": args.consumer} if args.consumer else {}
    return {"group": args.group, "listeners": frozenset(args.listener or ["inbound"]),
            "lag": args.lag, "claim_idle_ms": int(args.claim_idle * 1000), **extra}  # fmt: skip


def run(name: str, args: argparse.Namespace, config: Callable[[argparse.Namespace], Any],
        make: Callable[[Any, str | None], Runner], banner: Callable[[Any], str]) -> int:  # fmt: skip
    """`apex NAME`: logging (escaped: service names come from telemetry); the config `config(args)` checks
    (a ValueError, or a token that is not a reference: exit 2 after one line `apex NAME: ...`); then
    `make(config, token)` run until SIGTERM or SIGINT stops it cleanly (its last save and acknowledgements
    done) and closed, after one line on stderr, `banner(config)`: what it reads and how it acts."""
    import uvloop
    from apex.mesh.security.secrets import SecretError, resolve

    from sidecar.cli.term import SafeFormatter, safe

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    if not args.redis or not args.control_plane:
        print(f"apex {name}: --redis and --control-plane are required", file=sys.stderr)
        return 2
    try:
        cfg = config(args)
        token = resolve(args.token) if args.token else None
    except (ValueError, SecretError) as exc:
        print(f"apex {name}: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        runner = make(cfg, token)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(safe(banner(cfg)), file=sys.stderr, flush=True)
        try:
            await runner.run(stop)
        finally:
            await runner.close()

    uvloop.run(main())
    return 0
