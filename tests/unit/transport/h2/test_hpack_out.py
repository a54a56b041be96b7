"""The stateless HPACK encoder decodes (with a real HPACK decoder) to exactly the fields given, in order."""

from __future__ import annotations

import hpack
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.transport.h2.hpack_out import CACHE_LIMIT, StatelessEncoder

names = st.one_of(st.sampled_from([b":status", b":path", b"content-type", b"grpc-status", b"x-a", b"accept"]),
                  st.binary(min_size=1, max_size=30).map(lambda b: b.lower()))
values = st.one_of(st.sampled_from([b"200", b"0", b"POST", b"application/grpc", b""]), st.binary(max_size=300))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(names, values), max_size=12), min_size=1, max_size=4))
def test_any_header_lists_round_trip_through_a_real_decoder(blocks: list[list[tuple[bytes, bytes]]]) -> None:
    encoder = StatelessEncoder()
    decoder = hpack.Decoder(max_header_list_size=10**7)
    for headers in blocks:  # one decoder across blocks: the encoder must never rely on its table
        assert decoder.decode(encoder.encode(headers), raw=True) == headers


def test_repeated_fields_are_served_from_the_cache_which_is_bounded() -> None:
    encoder = StatelessEncoder()
    fields = [(b"grpc-timeout", f"{i}m".encode()) for i in range(CACHE_LIMIT + 100)]
    for field in fields:
        encoder.encode([field])
    assert len(encoder._cache) == CACHE_LIMIT
    assert encoder.encode([(b":status", b"200")]) == b"\x88"  # static index 8, fully indexed
