"""Plain values read from YAML (pure): durations such as "250ms" and protobuf integer ranges.

One reading for the sidecar's config (sidecar/config/yaml_proto.py) and the control plane's
patches (engines/control/patch.py): both raise their own error type, naming the field, with the
reason these functions give (a ValueError's message).
"""

from __future__ import annotations

import math
import re

from google.protobuf.descriptor import FieldDescriptor

DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)\s*$")
MAX_DURATION = 100 * 365 * 86400.0  # 100 years: any longer is a typo, and overflows nanoseconds

# Inclusive (low, high) of each protobuf integer field type.
INT_RANGES: dict[int, tuple[int, int]] = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _describe(value: object) -> str:
    kind = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(type(value))
    return f"{kind} {value!r}" if kind else repr(value)


def duration_seconds(value: object) -> float:
    """Seconds from "1.5s" / "250ms" / "2m" / "1h" or a bare number of seconds.

    ValueError (its message is the reason) for anything else: booleans, other units, negative,
    NaN or infinite values, and anything longer than MAX_DURATION.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '1s' or '250ms', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"expected a duration like '1s' or '250ms', got {value!r}")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite non-negative time, got {value!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than the maximum duration ({MAX_DURATION:.0f}s, 100 years)")
    return seconds


def is_integer_type(kind: int) -> bool:
    """Whether protobuf field type `kind` is one of the integer types INT_RANGES covers."""
    return kind in INT_RANGES


def checked_int(kind: int, value: object) -> int:
    """`value` as a protobuf integer of field type `kind`; ValueError naming the problem."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_describe(value)}")
    low, high = INT_RANGES[kind]
    if low == 0 and value < 0:
        raise ValueError(f"expected a non-negative integer, got {value} (outside {low}..{high})")
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return value
