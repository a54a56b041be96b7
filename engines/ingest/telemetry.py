"""Decode the sidecars' telemetry stream entries through the shared contract (bad ones become BadEntry)."""

from __future__ import annotations

from apex.mesh.contract import entries
from apex.mesh.contract.streams import TELEMETRY_PATTERN
from apex.mesh.v1 import telemetry_pb2

from engines.ingest.consumer import BadEntry

__all__ = ["TELEMETRY_PATTERN", "decode_window", "inbound_calls"]


def decode_window(fields: dict[bytes, bytes]) -> telemetry_pb2.TelemetryWindow | BadEntry:
    """The validated window (histograms included), or why it is not one."""
    try:
        return entries.decode_window(fields)
    except entries.EntryError as exc:
        return BadEntry(str(exc))


def inbound_calls(window: telemetry_pb2.TelemetryWindow, listeners: frozenset[str]) -> int:
    """Calls the instance served in this window: its routes on the given (inbound) listeners."""
    return sum(r.stats.calls for r in window.routes if r.listener in listeners)
