"""Set one field of a protobuf message by path (pure): `clusters[echo].dns_refresh = "2s"`.

Path segments are field names separated by dots; a repeated field takes `[index]` or, for
messages with a `name` field, `[name]`; a map takes `[key]`. The value is YAML text: a scalar
for a scalar field ("250ms" or 0.25 for a Duration, an enum by name), a mapping for a message
(a missing `[name]` element is appended), `null` to clear the field.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from apex.mesh.contract import values
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

_SEGMENT = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([^\]]+)\])?$")


class PatchError(ValueError):
    """A patch that cannot be applied: names the path and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse_value(text: str, path: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PatchError(path, f"value is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise PatchError(path, "value is nested too deeply") from None


def _seconds(value: Any, path: str) -> float:
    try:
        return values.duration_seconds(value)
    except ValueError as exc:
        raise PatchError(path, str(exc)) from None


def _scalar(field: FieldDescriptor, value: Any, path: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        if not isinstance(value, str) or value.upper() not in field.enum_type.values_by_name:
            names = ", ".join(v.name for v in field.enum_type.values)
            raise PatchError(path, f"expected one of {names}, got {value!r}")
        return field.enum_type.values_by_name[value.upper()].number
    if kind == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise PatchError(path, f"expected true or false, got {value!r}")
        return value
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, dict | list | bool):
            raise PatchError(path, f"expected a string, got {value!r}")
        return str(value)
    if values.is_integer_type(kind):
        try:
            return values.checked_int(kind, value)
        except ValueError as exc:
            raise PatchError(path, str(exc)) from None
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PatchError(path, f"expected a number, got {value!r}")
        return float(value)
    raise PatchError(path, f"fields of this type cannot be patched (type {kind})")


def _fill(message: Message, value: Any, path: str) -> None:
    message.Clear()
    if isinstance(message, Duration):
        message.FromNanoseconds(round(_seconds(value, path) * 1e9))
        return
    if not isinstance(value, dict):
        raise PatchError(path, f"expected a mapping for {message.DESCRIPTOR.name}, got {value!r}")
    try:
        json_format.ParseDict(value, message)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise PatchError(path, str(exc) or type(exc).__name__) from None


def _element(container: Any, field: FieldDescriptor, key: str, path: str, value: Any) -> tuple[Any, Any]:
    """(container, index) of the element `key` of a repeated field; appends a named one if asked."""
    if key.isdigit():
        index = int(key)
        if index >= len(container):
            raise PatchError(path, f"index {index} is out of range ({len(container)} elements)")
        return container, index
    if field.message_type is None or "name" not in field.message_type.fields_by_name:
        raise PatchError(path, f"{field.name} is indexed by number, got [{key}]")
    for i, item in enumerate(container):
        if item.name == key:
            return container, i
    if isinstance(value, dict):
        container.add(name=key)
        return container, len(container) - 1
    names = ", ".join(item.name for item in container) or "none"
    raise PatchError(path, f"no element named {key!r} (have: {names})")


def apply(message: Message, path: str, text: str) -> None:
    """Set the field at `path` of `message` (in place) from the YAML `text`; PatchError names what is wrong."""
    try:
        _apply(message, path, text)
    except PatchError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # protobuf refused a value we let through
        raise PatchError(path, f"{exc}") from None


def _apply(message: Message, path: str, text: str) -> None:
    value = parse_value(text, path)
    segments = path.split(".") if path else []
    if not segments:
        raise PatchError(path, "empty path")
    current: Message = message
    walked = ""
    for n, segment in enumerate(segments):
        last = n == len(segments) - 1
        m = _SEGMENT.match(segment)
        walked = f"{walked}.{segment}" if walked else segment
        if m is None:
            raise PatchError(walked, "expected a field name, optionally with [index], [name] or [key]")
        name, key = m.group(1), m.group(2)
        field = current.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            known = ", ".join(f.name for f in current.DESCRIPTOR.fields)
            raise PatchError(walked, f"unknown field (known fields: {known})")
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if key is None:
            if field.is_repeated:
                if not last:
                    raise PatchError(walked, f"{name} is a list: index it with [n] or [name]")
                raise PatchError(walked, f"{name} is a list: patch one element, e.g. {name}[0]")
            if field.message_type is None:
                if not last:
                    raise PatchError(walked, f"{name} is a scalar and has no fields")
                if value is None:
                    current.ClearField(name)
                else:
                    setattr(current, name, _scalar(field, value, walked))
                return
            if last:
                if value is None:
                    current.ClearField(name)
                else:
                    _fill(getattr(current, name), value, walked)
                return
            current = getattr(current, name)
            continue
        container = getattr(current, name)
        if is_map:
            value_field = field.message_type.fields_by_name["value"]
            if last:
                if value is None:
                    container.pop(key, None)
                elif value_field.message_type is None:
                    container[key] = _scalar(value_field, value, walked)
                else:
                    _fill(container[key], value, walked)
                return
            if value_field.message_type is None:
                raise PatchError(walked, f"{name}[{key}] is a scalar and has no fields")
            current = container[key]
            continue
        container, index = _element(container, field, key, walked, value if last else None)
        if last:
            if value is None:
                del container[index]
            elif field.message_type is None:
                container[index] = _scalar(field, value, walked)
            else:
                item = container[index]
                keep = item.name if "name" in field.message_type.fields_by_name else ""
                _fill(item, value, walked)
                if keep and not item.name:
                    item.name = keep
            return
        if field.message_type is None:
            raise PatchError(walked, f"{name}[{key}] is a scalar and has no fields")
        current = container[index]
