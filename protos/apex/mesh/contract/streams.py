"""Redis Streams names and entry fields shared by sidecars (writers) and engines (readers), and dead letters.

Keys carry the service in braces, a Redis Cluster hash tag, so every key of one service (its
telemetry, its events and their dead letters) lives in one slot. Dead letters go under
`apex:dead:`, which no read pattern matches: a consumer never reads its own dead letters back.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

TELEMETRY_PATTERN = "apex:telemetry:*"
EVENTS_PATTERN = "apex:events:*"
READ_PATTERNS = (TELEMETRY_PATTERN, EVENTS_PATTERN)
DEAD_LETTER_PREFIX = "apex:dead:"

WINDOW_FIELD = b"window"  # telemetry entries: a serialized apex.mesh.v1.TelemetryWindow
EVENT_FIELD = b"event"  # event entries: a serialized apex.mesh.v1.Event

# Dead letters: at most this many entries per dead-letter stream (exact MAXLEN: they are rare),
# and at most this many bytes of the bad entry's fields kept (names and values together).
DEAD_LETTER_MAXLEN = 10_000
DEAD_LETTER_PAYLOAD_CAP = 4096
REASON_CAP = 1024
# Dead-letter entry fields; the bad entry's own fields follow as `field:<name>`.
SOURCE_STREAM = b"source_stream"
SOURCE_ID = b"source_id"
REASON = b"reason"
SIZE = b"size"  # bytes of the bad entry's fields (names + values), before the cap
TRUNCATED = b"truncated"  # b"1" when fields were cut to DEAD_LETTER_PAYLOAD_CAP
FIELD_PREFIX = b"field:"


def telemetry_key(service: str) -> str:
    """`apex:telemetry:{service}`: one service's telemetry windows."""
    return f"apex:telemetry:{{{service}}}"


def events_key(service: str) -> str:
    """`apex:events:{service}`: one service's events."""
    return f"apex:events:{{{service}}}"


def dead_letter_key(stream: str) -> str:
    """Where bad entries of `stream` go: `apex:telemetry:{s}` -> `apex:dead:telemetry:{s}` (same slot)."""
    if is_dead_letter(stream):
        raise ValueError(f"{stream!r} is a dead-letter stream itself: its entries are never dead-lettered again")
    key = DEAD_LETTER_PREFIX + stream.removeprefix("apex:")
    assert not any(matches(pattern, key) for pattern in READ_PATTERNS), key  # by construction
    return key


def is_dead_letter(key: str) -> bool:
    return key.startswith(DEAD_LETTER_PREFIX)


def matches(pattern: str, key: str) -> bool:
    """Whether Redis' SCAN MATCH `pattern` (glob: * ? [..]) selects `key`."""
    return fnmatch.fnmatchcase(key, pattern)


def dead_letter_fields(
    stream: str, entry_id: str, fields: Mapping[bytes, bytes], reason: str, cap: int = DEAD_LETTER_PAYLOAD_CAP
) -> dict[bytes, bytes]:
    """The dead-letter entry for a bad entry: where it came from, why (once), and its fields up to `cap` bytes.

    1. The reason is kept to REASON_CAP characters.
    2. Fields are copied in order as `field:<name>` while they fit in `cap` bytes (name + value);
       the first one that does not fit is cut to what is left, the rest are left out.
    3. SIZE records the entry's full size and TRUNCATED whether anything was cut.
    """
    out: dict[bytes, bytes] = {
        SOURCE_STREAM: stream.encode(),
        SOURCE_ID: entry_id.encode(),
        REASON: reason[:REASON_CAP].encode(errors="replace"),
    }
    size = sum(len(k) + len(v) for k, v in fields.items())
    left = cap
    truncated = False
    for name, value in fields.items():
        if len(name) + len(value) <= left:
            out[FIELD_PREFIX + name] = value
            left -= len(name) + len(value)
            continue
        truncated = True
        if len(name) < left:
            out[FIELD_PREFIX + name] = value[: left - len(name)]
        break
    out[SIZE] = str(size).encode()
    out[TRUNCATED] = b"1" if truncated else b"0"
    return out
