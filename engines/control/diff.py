"""A readable field-level diff of two protobuf messages (pure): `clusters[echo].authority: "a" -> "b"`.

Repeated messages that have a `name` field are keyed by name (so inserting a cluster does not
show every later cluster as changed); other repeated fields are keyed by index, maps by key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

ADDED, REMOVED, CHANGED = "added", "removed", "changed"


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: str  # ADDED | REMOVED | CHANGED
    old: str = ""
    new: str = ""

    def __str__(self) -> str:
        if self.kind == ADDED:
            return f"+ {self.path}: {self.new}"
        if self.kind == REMOVED:
            return f"- {self.path}: {self.old}"
        return f"~ {self.path}: {self.old} -> {self.new}"


def format_duration(d: Duration) -> str:
    nanos = d.ToNanoseconds()
    if nanos % 1_000_000_000 == 0:
        return f"{nanos // 1_000_000_000}s"
    if nanos % 1_000_000 == 0:
        return f"{nanos // 1_000_000}ms"
    return f"{nanos / 1e9}s"


def _scalar(field: FieldDescriptor, value: object) -> str:
    if field.type == FieldDescriptor.TYPE_ENUM:
        enum_value = field.enum_type.values_by_number.get(int(value))  # type: ignore[call-overload]
        return enum_value.name if enum_value is not None else str(value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "true" if value else "false"
    if field.type == FieldDescriptor.TYPE_STRING:
        return json.dumps(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return repr(value)
    return repr(value) if isinstance(value, float) else str(value)


def _key(item: Message, index: int) -> str:
    name_field = item.DESCRIPTOR.fields_by_name.get("name")
    name = getattr(item, "name", "") if name_field is not None else ""
    if name_field is not None and name_field.type == FieldDescriptor.TYPE_STRING and name:
        return str(name)
    return str(index)


def _value(field: FieldDescriptor, value: object, path: str) -> Iterator[tuple[str, str]]:
    if field.message_type is None:
        yield path, _scalar(field, value)
    elif isinstance(value, Duration):
        yield path, format_duration(value)
    else:
        assert isinstance(value, Message)
        leaves = list(flatten(value, path))
        yield from leaves or [(path, "{}")]


def flatten(message: Message, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, printable value) for every set leaf field of `message`."""
    for field, value in message.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for key in sorted(value):
                yield from _value(value_field, value[key], f"{path}[{key}]")
        elif field.is_repeated:
            for i, item in enumerate(value):
                key = _key(item, i) if field.message_type is not None else str(i)
                yield from _value(field, item, f"{path}[{key}]")
        else:
            yield from _value(field, value, path)


def diff(old: Message | None, new: Message | None, *, ignore: tuple[str, ...] = ("version",)) -> list[Change]:
    """Field changes from `old` to `new` in path order; fields named in `ignore` are skipped."""
    before = dict(flatten(old)) if old is not None else {}
    after = dict(flatten(new)) if new is not None else {}
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys(), key=_order(before, after)):
        if path in ignore:
            continue
        if path not in before:
            changes.append(Change(path, ADDED, new=after[path]))
        elif path not in after:
            changes.append(Change(path, REMOVED, old=before[path]))
        elif before[path] != after[path]:
            changes.append(Change(path, CHANGED, old=before[path], new=after[path]))
    return changes


def _order(before: dict[str, str], after: dict[str, str]) -> Callable[[str], int]:
    """Sort paths in document order: the new message's order, then paths only the old one had."""
    order: dict[str, int] = {}
    for path in list(after) + list(before):
        order.setdefault(path, len(order))
    return order.__getitem__
