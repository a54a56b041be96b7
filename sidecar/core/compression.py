"""gRPC message compression as a relay sees it (PROTOCOL-HTTP2.md, doc/compression.md).

Transport h2 reads frames itself: a call's `grpc-encoding` (the algorithm of its compressed
messages) and `grpc-accept-encoding` (what its sender can read) travel as call metadata, end to
end, and a message whose compressed flag was set travels as `Compressed` (its bytes as received)
and is written back with the flag set: compressed requests and answers pass through unchanged,
flag by flag, and the sidecar never inflates them.

Transport grpc cannot: grpc core inflates what arrives and never shows the application a call's
encoding or a message's flag, so compression ends at each grpc hop. Where an h2 side meets a grpc
side in one sidecar, the grpc side `decompress`es Compressed messages and hands the call's
encoding to grpc core, which compresses the whole call again.
"""

from __future__ import annotations

import zlib

from sidecar.core.call import Metadata

ENCODING = "grpc-encoding"
ACCEPT_ENCODING = "grpc-accept-encoding"
KEYS = frozenset((ENCODING, ACCEPT_ENCODING))
DEFAULT_LIMIT = 64 * 1024 * 1024  # bytes a decompressed message may grow to (a zip bomb stops here)

# zlib window bits per grpc-encoding: gzip wrapper, zlib wrapper ("deflate" in gRPC is zlib format).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class Compressed(bytes):
    """A message as it arrived with the compressed flag set: still compressed with `encoding`."""

    encoding: str

    def __new__(cls, data: bytes, encoding: str) -> Compressed:
        message = super().__new__(cls, data)
        message.encoding = encoding
        return message


class CompressionError(ValueError):
    """A compressed message that cannot be read: unknown encoding, corrupt data, or too large."""


def encoding_of(metadata: Metadata) -> str:
    """The `grpc-encoding` value among metadata pairs ("identity" when absent)."""
    for key, value in metadata:
        if key == ENCODING:
            return (value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)).strip().lower()
    return "identity"


def decompress(message: bytes, limit: int = DEFAULT_LIMIT) -> bytes:
    """`message` uncompressed: a Compressed one inflated (at most `limit` bytes), others as they are."""
    if type(message) is not Compressed:
        return message
    wbits = _WBITS.get(message.encoding)
    if wbits is None:
        raise CompressionError(f"compressed message with unsupported grpc-encoding {message.encoding!r}")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(message, limit + 1)
    except zlib.error as exc:
        raise CompressionError(f"corrupt {message.encoding} message: {exc}") from None
    if len(out) > limit:
        raise CompressionError(f"{message.encoding} message inflates beyond {limit} bytes")
    if not inflater.eof:
        raise CompressionError(f"truncated {message.encoding} message")
    return out
