"""`apex telemetry tail`: print the telemetry windows a service's sidecars published to Redis.

A bad entry (not a window, or a window the contract's decoder rejects) is reported on one line
with its stream id and reason, counted and skipped; the count is printed at the end. Everything
printed has its control characters escaped (JSON lines by JSON itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from apex.mesh.contract.streams import telemetry_key

from sidecar.cli.redis_guard import guard
from sidecar.telemetry.reader import Dedupe, escape, split, window_dict, window_text

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_LAST = 20  # a stream holds up to stream_maxlen (10000) windows per service: show a recent tail


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of windows, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "telemetry", help="read telemetry windows from Redis Streams", description="Telemetry windows on Redis."
    )
    sub = p.add_subparsers(dest="telemetry_command", required=True, metavar="SUBCOMMAND")
    tail = sub.add_parser("tail", help="print a service's windows (then exit, or --follow)")
    tail.add_argument("--service", required=True, metavar="S", help="service name (stream apex:telemetry:{S})")
    tail.add_argument(
        "--redis", metavar="URL", default=os.environ.get("APEX_REDIS_URL") or DEFAULT_REDIS,
        help=f"Redis URL (default $APEX_REDIS_URL or {DEFAULT_REDIS})",
    )  # fmt: skip
    tail.add_argument("--json", action="store_true", help="one JSON object per window")
    tail.add_argument("--follow", action="store_true", help="keep printing new windows")
    tail.add_argument(
        "--last",
        type=_count,
        default=DEFAULT_LAST,
        metavar="N",
        help=f"start with the last N windows already in the stream (default {DEFAULT_LAST})",
    )
    tail.add_argument("--all", action="store_true", help="start with every window in the stream instead")
    tail.set_defaults(run=run)


class _Tally:
    def __init__(self) -> None:
        self.seen = 0
        self.bad = 0


def _print(entries: list[Any], dedupe: Dedupe, as_json: bool, tally: _Tally) -> str | None:
    good, bad = split(entries, dedupe)
    tally.seen += len(entries)
    tally.bad += len(bad)
    for stream_id, window in good:
        print(json.dumps(window_dict(window, stream_id)) if as_json else window_text(window), flush=True)
    for entry in bad:
        note = f"apex telemetry: skipped bad entry {entry.stream_id}: {entry.reason}"
        print(escape(note), file=sys.stderr, flush=True)
    return entries[-1][0] if entries else None


async def tail(args: argparse.Namespace) -> int:
    import redis.asyncio as aioredis

    client: Any = aioredis.from_url(args.redis, socket_connect_timeout=5.0)
    key = telemetry_key(args.service)
    dedupe = Dedupe()
    tally = _Tally()
    try:
        entries: list[Any]
        if args.all:
            entries = await client.xrange(key)
        else:
            entries = list(reversed(await client.xrevrange(key, count=args.last)))
        last = _print(entries, dedupe, args.json, tally) or "0-0"
        if not entries and not args.follow:
            print(escape(f"apex telemetry: no windows yet on {key}"), file=sys.stderr)
        if not entries and not args.all:
            last = "$"
        while args.follow:
            found = await client.xread({key: last}, block=1000, count=100)
            for _, stream_entries in found or ():
                last = _print(stream_entries, dedupe, args.json, tally) or last
    finally:
        await client.aclose()
        if tally.bad:
            print(f"apex telemetry: skipped {tally.bad} bad entries of {tally.seen}", file=sys.stderr, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    return guard("telemetry", args.redis, lambda: asyncio.run(tail(args)))
