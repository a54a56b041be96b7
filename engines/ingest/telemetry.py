"""Decode the sidecars' telemetry stream entries (protobuf TelemetryWindow in field `window`)."""

from __future__ import annotations

from apex.mesh.v1 import telemetry_pb2
from google.protobuf.message import DecodeError

from engines.ingest.consumer import BadEntry

WINDOW_FIELD = b"window"
TELEMETRY_PATTERN = "apex:telemetry:*"


def decode_window(fields: dict[bytes, bytes]) -> telemetry_pb2.TelemetryWindow | BadEntry:
    data = fields.get(WINDOW_FIELD)
    if data is None:
        return BadEntry(f"no 'window' field (fields: {sorted(k.decode(errors='replace') for k in fields)})")
    window = telemetry_pb2.TelemetryWindow()
    try:
        window.ParseFromString(data)
    except DecodeError as exc:
        return BadEntry(f"'window' is not a TelemetryWindow protobuf: {exc}")
    if not window.service or not window.instance:
        return BadEntry("window has no service or instance")
    return window


def inbound_calls(window: telemetry_pb2.TelemetryWindow, listeners: frozenset[str]) -> int:
    """Calls the instance served in this window: its routes on the given (inbound) listeners."""
    return sum(r.stats.calls for r in window.routes if r.listener in listeners)
