"""sidecar.core.compression: compressed messages kept as they are, inflated only where a transport must,
with limits; and the metadata split the grpc transport hands to grpc core."""

from __future__ import annotations

import gzip
import zlib

import grpc
import pytest

from sidecar.core.compression import Compressed, CompressionError, decompress, encoding_of
from sidecar.transport.grpc_aio.wire import split_compression
from sidecar.transport.h2.grpc_wire import metadata_from_headers


def test_plain_messages_pass_untouched_and_compressed_ones_inflate() -> None:
    plain = b"\x0a\x03abc"
    assert decompress(plain) is plain
    packed = Compressed(gzip.compress(plain * 100), "gzip")
    assert isinstance(packed, bytes) and packed.encoding == "gzip"
    assert decompress(packed) == plain * 100
    assert decompress(Compressed(zlib.compress(plain), "deflate")) == plain


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Compressed(b"\x1f\x8b not gzip", "gzip"), "corrupt gzip message"),
        (Compressed(gzip.compress(b"x" * 10)[:-9], "gzip"), "truncated gzip message"),
        (Compressed(b"abc", "snappy"), "unsupported grpc-encoding 'snappy'"),
        (Compressed(gzip.compress(b"\0" * 10_000), "gzip"), "inflates beyond 1000 bytes"),
    ],
)
def test_unreadable_compressed_messages_name_the_problem(message: Compressed, reason: str) -> None:
    with pytest.raises(CompressionError, match=reason):
        decompress(message, limit=1000)


def test_h2_keeps_the_encoding_headers_as_call_metadata() -> None:
    headers = [(b":path", b"/a.B/C"), (b"grpc-encoding", b"gzip"), (b"grpc-accept-encoding", b"identity,gzip"),
               (b"grpc-timeout", b"1S"), (b"x-k", b"v"), (b"grpc-status", b"0")]  # fmt: skip
    metadata = tuple(metadata_from_headers(headers))
    assert metadata == (("grpc-encoding", "gzip"), ("grpc-accept-encoding", "identity,gzip"), ("x-k", "v"))
    assert encoding_of(metadata) == "gzip" and encoding_of((("x-k", "v"),)) == "identity"


def test_grpc_side_takes_the_encoding_out_of_the_metadata() -> None:
    rest, compression = split_compression((("grpc-encoding", "GZIP"), ("x-k", "v"), ("grpc-accept-encoding", "gzip")))
    assert rest == (("x-k", "v"),) and compression is grpc.Compression.Gzip
    assert split_compression((("x-k", "v"),)) == ((("x-k", "v"),), None)
    assert split_compression((("grpc-encoding", "identity"),)) == ((), None)
