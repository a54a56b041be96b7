"""`apex events tail`: print events from `apex:events:{service}` streams (read-only: no consumer group).

Without --service it reads every service's events stream (found with SCAN; never the dead
letters). `--priority HIGH` prints HIGH and CRITICAL only. Output has its control characters
escaped (JSON lines by JSON itself); an entry that is not an Event is reported and counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from apex.mesh.bus import Priority, decode, parse_priority, priority_name
from apex.mesh.bus.connect import connect
from apex.mesh.contract import streams
from apex.mesh.contract.entries import EntryError
from apex.mesh.v1 import telemetry_pb2

from sidecar.cli.redis_guard import guard
from sidecar.cli.term import safe as escape

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "events", help="read events (the event bus) from Redis Streams", description="Events on Redis Streams."
    )
    sub = p.add_subparsers(dest="events_command", required=True, metavar="SUBCOMMAND")
    tail = sub.add_parser("tail", help="print recent events (then exit, or --follow)", description=__doc__)
    tail.add_argument("--service", metavar="S", help="one service's events (default: every service)")
    tail.add_argument("--priority", metavar="P", type=_priority, default=Priority.UNSPECIFIED,
                      help="only events of at least this priority (LOW, MEDIUM, HIGH, CRITICAL)")  # fmt: skip
    tail.add_argument("--last", type=int, default=20, metavar="N", help="events already there, per stream (20)")
    tail.add_argument("--follow", action="store_true", help="keep printing new events")
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    tail.add_argument(
        "--redis", metavar="URL", default=os.environ.get("APEX_REDIS_URL") or DEFAULT_REDIS,
        help=f"Redis URL, redis+cluster://host:port for a Cluster (default $APEX_REDIS_URL or {DEFAULT_REDIS})",
    )  # fmt: skip
    tail.set_defaults(run=run)


def _priority(text: str) -> Priority:
    try:
        return parse_priority(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def event_dict(event: telemetry_pb2.Event, stream_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": stream_id, "time": _time(event), "priority": priority_name(event.priority)}
    for name in ("kind", "service", "instance", "route", "cluster", "endpoint", "correlation_id", "message"):
        if value := getattr(event, name):
            out[name] = value
    if event.attributes:
        out["attributes"] = dict(sorted(event.attributes.items()))
    out["sequence"] = event.sequence
    return out


def event_text(event: telemetry_pb2.Event) -> str:
    parts = [_time(event), f"{priority_name(event.priority):<8}", event.kind, f"service={event.service}"]
    for name in ("instance", "route", "cluster", "endpoint", "correlation_id"):
        if value := getattr(event, name):
            parts.append(f"{name}={value}")
    parts += [f"{k}={v}" for k, v in sorted(event.attributes.items())]
    if event.message:
        parts.append(f"message={json.dumps(event.message)}")
    return escape(" ".join(parts))


def _time(event: telemetry_pb2.Event) -> str:
    stamp = datetime.fromtimestamp(event.time.ToNanoseconds() / 1e9, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Printer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bad = 0

    def show(self, key: str, raw_id: bytes | str, fields: dict[bytes, bytes]) -> None:
        stream_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        try:
            event = decode(fields)
        except EntryError as exc:
            self.bad += 1
            print(escape(f"apex events: skipped bad entry {key} {stream_id}: {exc}"), file=sys.stderr, flush=True)
            return
        if event.priority < self.args.priority:
            return
        print(json.dumps(event_dict(event, stream_id)) if self.args.json else event_text(event), flush=True)


async def _keys(client: Any, service: str | None) -> list[str]:
    if service:
        return [streams.events_key(service)]
    found = {k.decode() if isinstance(k, bytes) else k async for k in client.scan_iter(match=streams.EVENTS_PATTERN)}
    return sorted(k for k in found if not streams.is_dead_letter(k))


async def tail(args: argparse.Namespace) -> int:
    client: Any = connect(args.redis, socket_connect_timeout=5.0)  # redis:// or redis+cluster://
    printer = _Printer(args)
    last: dict[str, str] = {}
    try:
        for key in await _keys(client, args.service):
            recent = list(reversed(await client.xrevrange(key, count=max(args.last, 1))))
            for raw_id, fields in recent[-args.last :] if args.last > 0 else []:
                printer.show(key, raw_id, fields)
            last[key] = recent[-1][0].decode() if recent else "0-0"
        if not last and not args.follow:
            where = streams.events_key(args.service) if args.service else streams.EVENTS_PATTERN
            print(escape(f"apex events: no events on {where}"), file=sys.stderr)
        while args.follow:
            for key in await _keys(client, args.service):  # one key per XREAD: keys may be in other cluster slots
                found = await client.xread({key: last.get(key, "0-0")}, count=100)
                for _, entries in found or ():
                    for raw_id, fields in entries:
                        printer.show(key, raw_id, fields)
                        last[key] = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await client.aclose()
        if printer.bad:
            print(f"apex events: skipped {printer.bad} bad entries", file=sys.stderr, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    return guard("events", args.redis, lambda: asyncio.run(tail(args)))
