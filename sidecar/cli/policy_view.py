"""Readable output for `apex policy` / `apex instances`: policy YAML, tables, diffs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import yaml
from apex.mesh.v1 import control_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from engines.control.diff import format_duration
from sidecar.cli.term import safe

SOURCES = {"operator": control_pb2.OPERATOR, "forecaster": control_pb2.FORECASTER, "tuner": control_pb2.TUNER}
KIND_MARK = {control_pb2.FieldChange.ADDED: "+", control_pb2.FieldChange.REMOVED: "-"}


def _value(field: FieldDescriptor, value: Any) -> Any:
    if isinstance(value, Duration):
        return format_duration(value)  # the same text the control plane's diffs use
    if isinstance(value, Message):
        return to_data(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    return value


def to_data(message: Message) -> dict[str, Any]:
    """A message as plain data in the shape the YAML config uses (so `get` output can be `set` back)."""
    data: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            data[field.name] = {k: _value(value_field, v) for k, v in sorted(value.items())}
        elif field.is_repeated:
            data[field.name] = [_value(field, v) for v in value]
        else:
            data[field.name] = _value(field, value)
    return data


def when(ts: Timestamp) -> str:
    stamp: dt.datetime = ts.ToDatetime(tzinfo=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def source_name(source: int) -> str:
    return str(control_pb2.ChangeSource.Name(source)).lower() if source else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns; control characters in cells (remote data) are escaped."""
    rows = [[safe(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def percent(value: float) -> str:
    return f"{value:g}%"


def record_header(record: control_pb2.PolicyRecord) -> str:
    extra = f", rollback of {record.rollback_of}" if record.rollback_of else ""
    canary = f", canary {percent(record.rollout_percent)}" if record.rollout_percent < 100 else ""
    return (
        f"# service {safe(record.service)} version {record.version}{canary}{extra}\n"
        f"# {when(record.created_at)} UTC by {safe(record.author)} ({source_name(record.source)}): "
        f"{safe(record.reason or '-')}"
    )


def policy_yaml(record: control_pb2.PolicyRecord) -> str:
    data = to_data(record.policy)
    data.pop("version", None)  # the store assigns versions
    return yaml.safe_dump(data, sort_keys=False)


def live_mark(
    record: control_pb2.PolicyRecord, latest: int, instances: Sequence[control_pb2.InstanceStatus] | None
) -> str:
    """The LIVE column: "*" for the live (stable) version, "canary" for a newer partial rollout, but
    only when at least one sidecar applied it; otherwise "stored, not applied (N NACKs)". An older
    version sidecars still run (they rejected the newer one) shows "running (N applied)".
    Without `instances` (no registry read) the store's heads alone decide, as before."""
    v = str(record.version)
    applied = sum(1 for s in instances or () if s.applied_version == v)
    nacks = sum(1 for s in instances or () if s.last_nack_version == v)
    if record.version == record.stable_version:
        mark = "*"
    elif record.version == latest:
        mark = "canary"  # a superseded canary is just history
    else:
        return f"running ({applied} applied)" if applied else ""  # e.g. what sidecars kept after a NACK
    if instances is None:
        return mark
    if applied:
        return f"{mark} ({applied} applied)" + (f", {nacks} NACKs" if nacks else "")
    return f"stored, not applied ({nacks} NACKs)"


def history_table(
    records: Sequence[control_pb2.PolicyRecord], instances: Sequence[control_pb2.InstanceStatus] | None = None
) -> str:
    rows = []
    latest = max((r.version for r in records), default=0)
    for r in records:
        mark = live_mark(r, latest, instances)
        reason = r.reason + (f" (rollback of {r.rollback_of})" if r.rollback_of else "")
        rows.append(
            [
                str(r.version),
                mark,
                when(r.created_at),
                source_name(r.source),
                r.author,
                percent(r.rollout_percent),
                str(len(r.diff)),
                reason,
            ]
        )
    return table(["VERSION", "LIVE", "WHEN (UTC)", "SOURCE", "AUTHOR", "ROLLOUT", "CHANGES", "REASON"], rows)


def diff_text(changes: Sequence[control_pb2.FieldChange]) -> str:
    if not changes:
        return "(no changes)"
    lines = []
    for c in changes:
        path, old, new = safe(c.path), safe(c.old_value), safe(c.new_value)
        if c.kind == control_pb2.FieldChange.ADDED:
            lines.append(f"+ {path}: {new}")
        elif c.kind == control_pb2.FieldChange.REMOVED:
            lines.append(f"- {path}: {old}")
        else:
            lines.append(f"~ {path}: {old} -> {new}")
    return "\n".join(lines)


def instances_table(instances: Sequence[control_pb2.InstanceStatus]) -> str:
    rows = []
    for i in instances:
        health = "healthy" if i.healthy else ("connected" if i.connected else "gone")
        if i.connected and not i.healthy:
            health = "stale"
        nack = f"v{i.last_nack_version} {i.last_nack_field}: {i.last_nack_reason}" if i.last_nack_reason else "-"
        rows.append(
            [
                i.service,
                i.instance,
                i.address or "-",
                health,
                i.applied_version or "-",
                i.pushed_version or "-",
                when(i.last_heartbeat),
                i.replica,
                nack,
            ]
        )
    headers = [
        "SERVICE",
        "INSTANCE",
        "ADDRESS",
        "HEALTH",
        "APPLIED",
        "PUSHED",
        "LAST HEARTBEAT",
        "REPLICA",
        "LAST NACK",
    ]
    return table(headers, rows)
