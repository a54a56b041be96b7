"""gRPC over HTTP/2 pieces (PROTOCOL-HTTP2.md): 5-byte message prefix, grpc-timeout, metadata with -bin."""

from __future__ import annotations

import base64
import binascii

PREFIX = 5
_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}
_MAX_DIGITS = 8  # the spec: at most 8 ASCII digits


class MessageTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"gRPC message of {size} bytes exceeds the limit of {limit}")
        self.size, self.limit = size, limit


class MessageDecoder:
    """DATA payloads in, whole messages out, however the frames split them (prefix and body alike).

    A declared length above `max_message` raises MessageTooLarge before any of its body is buffered,
    so one stream never holds more than max_message + 5 bytes.
    """

    __slots__ = ("_buf", "max_message")

    def __init__(self, max_message: int = 4 * 1024 * 1024) -> None:
        self._buf = b""
        self.max_message = max_message

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        """(compressed flag, message) for each whole message now available."""
        buf = self._buf + data if self._buf else data
        out: list[tuple[bool, bytes]] = []
        pos, end = 0, len(buf)
        while end - pos >= PREFIX:
            size = int.from_bytes(buf[pos + 1 : pos + 5], "big")
            if size > self.max_message:
                raise MessageTooLarge(size, self.max_message)
            if end - pos - PREFIX < size:
                break
            out.append((buf[pos] == 1, buf[pos + PREFIX : pos + PREFIX + size]))
            pos += PREFIX + size
        self._buf = buf[pos:] if pos < end else b""
        return out


def encode_message(message: bytes, compressed: bool = False) -> bytes:
    return (b"\x01" if compressed else b"\x00") + len(message).to_bytes(4, "big") + message


def parse_timeout(value: bytes) -> float:
    """grpc-timeout header value -> seconds; ValueError naming the value when malformed."""
    digits, unit = value[:-1], value[-1:]
    if not digits or len(digits) > _MAX_DIGITS or not digits.isdigit() or unit not in _UNITS:
        raise ValueError(f"malformed grpc-timeout {value!r}: want 1-8 digits and one of H M S m u n")
    return int(digits) * _UNITS[unit]


def encode_timeout(seconds: float) -> bytes:
    """Seconds -> the most precise grpc-timeout that fits in 8 digits (never rounds down to 0)."""
    seconds = max(seconds, 0.0)
    for unit, scale in ((b"n", 1e-9), (b"u", 1e-6), (b"m", 1e-3), (b"S", 1.0), (b"M", 60.0), (b"H", 3600.0)):
        count = -(-seconds // scale) if seconds else 0  # ceiling: a deadline never arrives early
        if count < 10**_MAX_DIGITS:
            return str(int(count)).encode() + unit
    return b"99999999H"


# headers a gRPC relay must not pass on as application metadata
RESERVED = frozenset((b"content-type", b"te", b"grpc-timeout", b"user-agent"))
# grpc- headers that do pass, end to end: messages keep their compressed flag (sidecar.core.compression)
END_TO_END = frozenset((b"grpc-encoding", b"grpc-accept-encoding"))


def metadata_from_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str | bytes]]:
    """Application metadata in wire order (repeated keys kept), `-bin` values base64-decoded."""
    out: list[tuple[str, str | bytes]] = []
    for name, value in headers:
        if name[:1] == b":" or name in RESERVED or (name.startswith(b"grpc-") and name not in END_TO_END):
            continue
        key = name.decode("ascii")
        if key.endswith("-bin"):
            out.append((key, decode_bin(value)))
        else:
            out.append((key, value.decode("latin-1")))
    return out


def headers_from_metadata(metadata: list[tuple[str, str | bytes]]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for key, value in metadata:
        name = key.lower().encode("ascii")
        if key.endswith("-bin"):
            raw = value if isinstance(value, bytes) else value.encode("latin-1")
            out.append((name, base64.b64encode(raw).rstrip(b"=")))
        else:
            out.append((name, value.encode("latin-1") if isinstance(value, str) else value))
    return out


def decode_bin(value: bytes) -> bytes:
    """Base64 with or without padding (both are allowed on the wire)."""
    try:
        return base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"malformed -bin metadata value: {exc}") from exc
