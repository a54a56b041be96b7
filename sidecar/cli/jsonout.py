"""Protobuf messages as JSON-ready dicts with 64-bit integers as numbers (protobuf's JSON mapping
writes int64/uint64 as strings, which scripts then have to convert)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

_INT64 = {
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64,
}  # fmt: skip


def _fix(value: Any, field: FieldDescriptor) -> Any:
    if field.type in _INT64:
        return int(value)
    if field.type == FieldDescriptor.TYPE_MESSAGE and isinstance(value, dict):
        return _walk(value, field.message_type)
    return value


def _walk(data: dict[str, Any], descriptor: Descriptor) -> dict[str, Any]:
    if descriptor.GetOptions().map_entry:
        raise AssertionError("maps are handled by their field")
    for name, value in data.items():
        field = descriptor.fields_by_name.get(name) or descriptor.fields_by_camelcase_name.get(name)
        if field is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            data[name] = {k: _fix(v, value_field) for k, v in value.items()}
        elif isinstance(value, list):
            data[name] = [_fix(v, field) for v in value]
        else:
            data[name] = _fix(value, field)
    return data


def message_dict(message: Message) -> dict[str, Any]:
    """MessageToDict (proto field names, zero counts shown) with 64-bit integers as JSON numbers."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return _walk(data, message.DESCRIPTOR)
