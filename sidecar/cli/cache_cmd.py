"""`apex cache stats|purge`: read and purge a running sidecar's response cache."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc
from apex.mesh.v1 import cache_pb2, cache_pb2_grpc

from sidecar.cli.admin_channel import admin_channel
from sidecar.cli.jsonout import message_dict
from sidecar.cli.term import echo

COLUMNS = (
    ("METHOD", "method"),
    ("HITS", "hits"),
    ("MISSES", "misses"),
    ("COALESCED", "coalesced"),
    ("STALE-SWR", "stale_while_revalidate"),
    ("STALE-SIE", "stale_if_error"),
    ("EVICTED", "evictions"),
    ("ENTRIES", "entries"),
    ("BYTES", "bytes"),
)


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "cache",
        help="read or purge a sidecar's response cache",
        description="Per-method cache counters (stats), or drop entries (purge --method M | --key-prefix P | --all).",
    )
    p.add_argument(
        "--admin",
        default=os.environ.get("APEX_ADMIN", "127.0.0.1:9901"),
        metavar="HOST:PORT",
        help="the sidecar's admin address (default $APEX_ADMIN or 127.0.0.1:9901)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("what", choices=["stats", "purge"])
    target = p.add_mutually_exclusive_group()
    target.add_argument("--method", help="purge: every entry of /pkg.Service/Method")
    target.add_argument("--key-prefix", help="purge: entries whose key starts with this")
    target.add_argument("--all", action="store_true", help="purge: every entry")
    p.set_defaults(run=run)


def _stats(stub: cache_pb2_grpc.CacheAdminStub, as_json: bool) -> int:
    stats = stub.GetCacheStats(cache_pb2.GetCacheStatsRequest(), timeout=5)
    if as_json:
        echo(json.dumps(message_dict(stats), indent=2))  # counts as numbers, not strings
        return 0
    echo(f"entries: {stats.entries}/{stats.max_entries}   bytes: {stats.bytes}/{stats.max_bytes}")
    rows = [tuple(title for title, _ in COLUMNS)]
    for m in stats.methods:
        rows.append(
            tuple(
                str(getattr(m, name)) + ("" if m.enforced or name != "method" else " (shadow)") for _, name in COLUMNS
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _purge(stub: cache_pb2_grpc.CacheAdminStub, args: argparse.Namespace) -> int:
    if args.method:
        request = cache_pb2.PurgeCacheRequest(method=args.method)
    elif args.key_prefix:
        request = cache_pb2.PurgeCacheRequest(key_prefix=args.key_prefix)
    elif args.all:
        request = cache_pb2.PurgeCacheRequest(all=True)
    else:
        echo("apex cache purge: give --method M, --key-prefix P or --all", file=sys.stderr)
        return 2
    purged = stub.PurgeCache(request, timeout=5).purged
    echo(json.dumps({"purged": purged}) if args.json else f"purged {purged} entries")
    return 0


def run(args: argparse.Namespace) -> int:
    with admin_channel(args.admin) as channel:
        stub = cache_pb2_grpc.CacheAdminStub(channel)
        try:
            return _stats(stub, args.json) if args.what == "stats" else _purge(stub, args)
        except grpc.RpcError as err:
            echo(f"apex cache: {args.admin}: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
