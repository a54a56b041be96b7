"""Decode and validate stream entries: a TelemetryWindow in field `window`, an Event in field `event`.

Both sides use these: the sidecar's `apex telemetry tail` and the engines' consumers. A bad entry
raises EntryError with a one-line reason (naming the field); callers report, count and skip it
(the CLI prints a note, the engines dead-letter it), never crash on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.protobuf.message import DecodeError

from apex.mesh.contract import histogram
from apex.mesh.contract.streams import EVENT_FIELD, WINDOW_FIELD
from apex.mesh.v1 import telemetry_pb2


class EntryError(ValueError):
    """A stream entry that is not what the contract says; the message is the reason, on one line."""


def _field(fields: Mapping[Any, Any], name: bytes) -> bytes:
    data = fields.get(name, fields.get(name.decode()))
    if data is None:
        names = sorted(k.decode(errors="replace") if isinstance(k, bytes) else str(k) for k in fields)
        shown = names[:10] + (["..."] if len(names) > 10 else [])
        raise EntryError(f"no {name.decode()!r} field (fields: {shown})")
    return data if isinstance(data, bytes) else str(data).encode("latin-1", errors="replace")


def latencies(window: telemetry_pb2.TelemetryWindow) -> Iterator[tuple[str, telemetry_pb2.LatencyHistogram]]:
    """Every latency histogram of a window with the path that names it (e.g. `routes[0].stats.latency`)."""
    for i, r in enumerate(window.routes):
        yield f"routes[{i}].stats.latency", r.stats.latency
    for i, c in enumerate(window.clusters):
        yield f"clusters[{i}].stats.latency", c.stats.latency
    for i, e in enumerate(window.endpoints):
        yield f"endpoints[{i}].stats.latency", e.stats.latency


def decode_window(fields: Mapping[Any, Any]) -> telemetry_pb2.TelemetryWindow:
    """The validated window of an entry: parses, names a service and an instance, every histogram decodes."""
    window = telemetry_pb2.TelemetryWindow()
    try:
        window.ParseFromString(_field(fields, WINDOW_FIELD))
    except DecodeError as exc:
        raise EntryError(f"'window' is not a TelemetryWindow protobuf: {exc}") from None
    if not window.service or not window.instance:
        raise EntryError("window has no service or instance")
    for where, msg in latencies(window):
        try:
            histogram.decode(msg, where)
        except histogram.HistogramError as exc:
            raise EntryError(str(exc)) from None
    return window


def decode_event(fields: Mapping[Any, Any]) -> telemetry_pb2.Event:
    event = telemetry_pb2.Event()
    try:
        event.ParseFromString(_field(fields, EVENT_FIELD))
    except DecodeError as exc:
        raise EntryError(f"'event' is not an Event protobuf: {exc}") from None
    return event
