"""Events as bus entries (pure): priorities by name, building an Event, and its stream entry fields."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any

from apex.mesh.contract import entries
from apex.mesh.contract.streams import EVENT_FIELD
from apex.mesh.v1 import telemetry_pb2


class Priority(enum.IntEnum):
    """apex.mesh.v1.Priority, ordered: a filter `min_priority=HIGH` passes HIGH and CRITICAL."""

    UNSPECIFIED = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


def parse_priority(name: str) -> Priority:
    """`"high"` -> Priority.HIGH; a clear error naming the choices otherwise."""
    try:
        return Priority[name.strip().upper()]
    except KeyError:
        choices = ", ".join(p.name for p in Priority if p)
        raise ValueError(f"unknown priority {name!r}: expected one of {choices}") from None


def priority_name(value: int) -> str:
    try:
        return Priority(value).name
    except ValueError:
        return str(value)


def new_event(
    kind: str,
    service: str,
    *,
    now: float,
    priority: Priority = Priority.MEDIUM,
    correlation_id: str = "",
    instance: str = "",
    message: str = "",
    attributes: Mapping[str, str] | None = None,
    sequence: int = 0,
    **fields: str,
) -> telemetry_pb2.Event:
    """An Event at time `now` (seconds since the epoch); a fresh correlation id when none is given.

    `fields` sets the Event's other string fields (route, cluster, endpoint).
    """
    if not kind:
        raise ValueError("an event needs a kind (e.g. 'service.health_degraded')")
    if not service:
        raise ValueError("an event needs the service it is about")
    event = telemetry_pb2.Event(
        kind=kind,
        priority=int(priority),
        correlation_id=correlation_id or uuid.uuid4().hex,
        service=service,
        instance=instance,
        message=message,
        sequence=sequence,
        **fields,
    )
    event.time.FromNanoseconds(int(now * 1e9))
    event.attributes.update(attributes or {})
    return event


def encode(event: telemetry_pb2.Event) -> dict[bytes, bytes]:
    """The stream entry's fields: the contract's `event` field."""
    return {EVENT_FIELD: event.SerializeToString()}


def decode(fields: Mapping[Any, Any]) -> telemetry_pb2.Event:
    """The Event in an entry; raises apex.mesh.contract.entries.EntryError when it is not one."""
    return entries.decode_event(fields)
