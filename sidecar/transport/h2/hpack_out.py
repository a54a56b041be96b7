"""A stateless HPACK encoder with a per-field cache: static-table references, raw literals without indexing.

The dynamic table is never used on the way out (always allowed, RFC 7541 §6.2.2), so a field's
encoding never depends on what was sent before and can be cached: a gRPC connection sends the same
few fields on every call (`:status 200`, `content-type`, `grpc-status 0`, its `:path`s), so most
header blocks are a few dictionary lookups. Fields the cache has not seen are encoded once (a cap
bounds the cache: values that change on every call, like `grpc-timeout`, would otherwise fill it).
Measured on the codec alone (benchmarks/h2_candidates.codec_cost, same run): 0.81x the CPU of
hpack's indexing Huffman encoder, decoding included; with Huffman literals it was 1.34x (the
peer's Huffman decoding costs more than the bytes it saves on loopback).
"""

from __future__ import annotations

from hpack.hpack import encode_integer
from hpack.table import HeaderTable

_FULL: dict[tuple[bytes, bytes], int] = {}
_NAMES: dict[bytes, int] = {}
for _i, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _FULL.setdefault((_name, _value), _i)
    _NAMES.setdefault(_name, _i)

CACHE_LIMIT = 4096


def _string(data: bytes) -> bytes:
    # no Huffman coding: a raw literal costs a few bytes more on the wire but nothing to decode,
    # which is what the peer's CPU (another sidecar's Python decoder, say) pays for every call
    return bytes(encode_integer(len(data), 7)) + data


def encode_field(name: bytes, value: bytes) -> bytes:
    index = _FULL.get((name, value))
    if index is not None:
        out = encode_integer(index, 7)
        out[0] |= 0x80  # indexed header field
        return bytes(out)
    name_index = _NAMES.get(name)
    if name_index is not None:
        return bytes(encode_integer(name_index, 4)) + _string(value)  # literal without indexing, indexed name
    return b"\x00" + _string(name) + _string(value)  # literal without indexing, new name


class StatelessEncoder:
    """`encode(headers) -> bytes`; one per connection or shared (it holds no connection state)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[tuple[bytes, bytes], bytes] = {}

    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        cache = self._cache
        parts = []
        for field in headers:
            coded = cache.get(field)
            if coded is None:
                coded = encode_field(*field)
                if len(cache) < CACHE_LIMIT:
                    cache[field] = coded
            parts.append(coded)
        return b"".join(parts)
