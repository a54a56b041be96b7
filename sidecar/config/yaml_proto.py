"""Fill a protobuf message from plain data (parsed YAML), naming the exact path of any error.

protobuf's json_format reports unknown fields and wrong types with inconsistent paths, so we
walk the descriptor ourselves: snake_case field names only, enums by name, durations as
"1.5s" / "250ms" / "2m" or a number of seconds.
"""

from __future__ import annotations

from typing import Any

from apex.mesh.contract import values
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from sidecar.policy.errors import ConfigError


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def parse_duration(value: object, path: str) -> float:
    """Seconds from "1.5s" / "250ms" / "2m" / "1h" or a bare number of seconds (apex.mesh.contract.values)."""
    try:
        return values.duration_seconds(value)
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def _scalar(field: FieldDescriptor, value: object, path: str) -> object:
    kind = field.type
    if kind == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values if not v.name.endswith("_UNSPECIFIED")]
        if not isinstance(value, str) or value.upper() not in field.enum_type.values_by_name:
            raise ConfigError(path, f"expected one of {', '.join(names)}, got {value!r}")
        return field.enum_type.values_by_name[value.upper()].number
    if kind == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {_type_name(value)} {value!r}")
        return value
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, bool | dict | list) or value is None:
            raise ConfigError(path, f"expected a string, got {_type_name(value)} {value!r}")
        return str(value)
    if kind == FieldDescriptor.TYPE_BYTES:
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise ConfigError(path, f"expected a string, got {_type_name(value)} {value!r}")
    if values.is_integer_type(kind):
        try:
            return values.checked_int(kind, value)
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from None
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, f"expected a number, got {_type_name(value)} {value!r}")
        return float(value)
    raise ConfigError(path, f"field type {kind} is not supported in YAML config")


def _set_message(target: Message, value: object, path: str) -> None:
    if target.DESCRIPTOR.full_name == Duration.DESCRIPTOR.full_name:
        assert isinstance(target, Duration)
        target.FromNanoseconds(round(parse_duration(value, path) * 1e9))
        return
    if value is None:  # `field:` with nothing after it: an empty message
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {_type_name(value)} {value!r}")
    target.SetInParent()  # an empty mapping still marks the message as present
    fill(target, value, path)


def fill(message: Message, data: dict[str, Any], path: str = "") -> Message:
    """Set the fields of `message` from `data`; raise ConfigError naming the first bad field."""
    descriptor: Descriptor = message.DESCRIPTOR
    oneofs_seen: dict[str, str] = {}
    for key, value in data.items():
        fpath = _join(path, str(key))
        field = descriptor.fields_by_name.get(str(key))
        if field is None:
            known = ", ".join(f.name for f in descriptor.fields)
            raise ConfigError(fpath, f"unknown field (known fields: {known})")
        if field.containing_oneof is not None:
            group = field.containing_oneof.name
            if group in oneofs_seen:
                raise ConfigError(fpath, f"only one of {oneofs_seen[group]!r} and {key!r} may be set")
            oneofs_seen[group] = str(key)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if not isinstance(value, dict):
                raise ConfigError(fpath, f"expected a mapping, got {_type_name(value)} {value!r}")
            target_map = getattr(message, field.name)
            value_field = field.message_type.fields_by_name["value"]
            for k, v in value.items():
                if value_field.message_type is not None:
                    _set_message(target_map[str(k)], v, f"{fpath}.{k}")
                else:
                    target_map[str(k)] = _scalar(value_field, v, f"{fpath}.{k}")
        elif field.is_repeated:
            if not isinstance(value, list):
                raise ConfigError(fpath, f"expected a list, got {_type_name(value)} {value!r}")
            target = getattr(message, field.name)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if field.message_type is not None:
                    _set_message(target.add(), item, ipath)
                else:
                    target.append(_scalar(field, item, ipath))
        elif field.message_type is not None:
            _set_message(getattr(message, field.name), value, fpath)
        else:
            setattr(message, field.name, _scalar(field, value, fpath))
    return message
