"""Read and decode telemetry windows from Redis Streams; turn them into plain dicts for JSON or text.

Entries are decoded and validated by the shared contract (`apex.mesh.contract.entries`): one that
fails is reported (stream id and reason), never silently skipped, and never stops the others.
Windows are deduplicated on (instance, sequence): a resend after a failed pipeline is not counted
twice. Text output escapes control characters (`escape`): names come from the stream, unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apex.mesh.contract import entries, histogram
from apex.mesh.contract.streams import events_key, telemetry_key
from apex.mesh.v1 import telemetry_pb2


@dataclass(frozen=True, slots=True)
class BadEntry:
    stream_id: str
    reason: str


def _sid(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def escape(text: str) -> str:
    """`text` with every non-printable character (ANSI escapes, newlines, bidi controls) as its repr escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def decode_window(stream_id: str, fields: dict[Any, Any]) -> telemetry_pb2.TelemetryWindow | BadEntry:
    try:
        return entries.decode_window(fields)
    except entries.EntryError as exc:
        return BadEntry(stream_id, str(exc))


def decode_event(stream_id: str, fields: dict[Any, Any]) -> telemetry_pb2.Event | BadEntry:
    try:
        return entries.decode_event(fields)
    except entries.EntryError as exc:
        return BadEntry(stream_id, str(exc))


class Dedupe:
    """Remembers (instance, sequence) pairs already seen."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()

    def fresh(self, window: telemetry_pb2.TelemetryWindow) -> bool:
        key = (window.instance, window.sequence)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


async def read_windows(
    client: Any, service: str, start: str = "-", count: int | None = None
) -> tuple[list[tuple[str, telemetry_pb2.TelemetryWindow]], list[BadEntry]]:
    """All windows of `service` from stream id `start` on (deduplicated), and the bad entries."""
    entries = await client.xrange(telemetry_key(service), min=start, max="+", count=count)
    return split(entries, Dedupe())


def split(
    entries: Iterable[tuple[Any, dict[Any, Any]]], dedupe: Dedupe
) -> tuple[list[tuple[str, telemetry_pb2.TelemetryWindow]], list[BadEntry]]:
    good: list[tuple[str, telemetry_pb2.TelemetryWindow]] = []
    bad: list[BadEntry] = []
    for raw_id, fields in entries:
        decoded = decode_window(_sid(raw_id), fields)
        if isinstance(decoded, BadEntry):
            bad.append(decoded)
        elif dedupe.fresh(decoded):
            good.append((_sid(raw_id), decoded))
    return good, bad


async def read_events(client: Any, service: str) -> tuple[list[telemetry_pb2.Event], list[BadEntry]]:
    good: list[telemetry_pb2.Event] = []
    bad: list[BadEntry] = []
    for raw_id, fields in await client.xrange(events_key(service)):
        decoded = decode_event(_sid(raw_id), fields)
        if isinstance(decoded, BadEntry):
            bad.append(decoded)
        else:
            good.append(decoded)
    return good, bad


def _aggregate(agg: telemetry_pb2.Aggregate) -> dict[str, Any]:
    h = histogram.decode(agg.latency)
    out: dict[str, Any] = {
        "calls": agg.calls,
        "errors": agg.errors,
        "status_codes": dict(sorted(agg.status_codes.items())),
        "in_flight": agg.in_flight,
        "in_flight_peak": agg.in_flight_peak,
        "request_bytes": agg.request_bytes,
        "response_bytes": agg.response_bytes,
    }
    if h.count:
        q = h.quantiles((50.0, 90.0, 95.0, 99.0))
        out["latency_ms"] = {
            "p50": round(q[50.0] * 1e3, 3),
            "p90": round(q[90.0] * 1e3, 3),
            "p95": round(q[95.0] * 1e3, 3),
            "p99": round(q[99.0] * 1e3, 3),
            "max": round(h.max * 1e3, 3),
            "mean": round(h.sum / h.count * 1e3, 3),
        }
    if agg.counters:
        out["counters"] = dict(sorted(agg.counters.items()))
    return out


def window_dict(window: telemetry_pb2.TelemetryWindow, stream_id: str = "") -> dict[str, Any]:
    """A JSON-ready view: service, instance, window_start, calls, errors, then per-route detail."""
    calls = sum(r.stats.calls for r in window.routes)
    errors = sum(r.stats.errors for r in window.routes)
    out: dict[str, Any] = {
        "service": window.service,
        "instance": window.instance,
        "window_start": window.window_start.ToJsonString(),
        "window_seconds": window.window.ToNanoseconds() / 1e9,
        "sequence": window.sequence,
        "policy_version": window.policy_version,
        "calls": calls,
        "errors": errors,
        "unrouted": window.unrouted,
        "dropped_windows": window.dropped_windows,
        "routes": [
            {"listener": r.listener, "route": r.route, "cluster": r.cluster, **_aggregate(r.stats)}
            for r in window.routes
        ],
        "clusters": [{"name": c.name, **_aggregate(c.stats), "states": dict(c.states)} for c in window.clusters],
        "endpoints": [
            {"cluster": e.cluster, "address": e.address, **_aggregate(e.stats), "states": dict(e.states)}
            for e in window.endpoints
        ],
    }
    if stream_id:
        out["stream_id"] = stream_id
    return out


def window_text(window: telemetry_pb2.TelemetryWindow) -> str:
    """One human-readable block per window; every line has its control characters escaped."""
    d = window_dict(window)
    lines = [
        f"{d['window_start']} {d['service']}/{d['instance']} #{d['sequence']} policy={d['policy_version']!r} "
        f"calls={d['calls']} errors={d['errors']} unrouted={d['unrouted']}"
    ]
    for r in d["routes"]:
        lat = r.get("latency_ms")
        lat_text = f" p50={lat['p50']}ms p95={lat['p95']}ms p99={lat['p99']}ms" if lat else ""
        codes = " ".join(f"{k}={v}" for k, v in r["status_codes"].items())
        lines.append(f"  {r['listener']}/{r['route']} -> {r['cluster']}: calls={r['calls']} {codes}{lat_text}")
    return "\n".join(escape(line) for line in lines)
