"""The inbound header-block cache decodes exactly what hpack.Decoder decodes, whatever the table did."""

from __future__ import annotations

from collections.abc import Callable

import hpack
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.transport.h2.hpack_in import CachingDecoder

FIELDS = [(b":path", b"/a.S/M"), (b":path", b"/a.S/N"), (b"content-type", b"application/grpc"),
          (b"grpc-status", b"0"), (b"x-big", b"v" * 3000), (b"te", b"trailers")]  # fmt: skip


def test_repeated_blocks_hit_the_cache_and_a_table_change_clears_it() -> None:
    enc, cached, ref = hpack.Encoder(), CachingDecoder(65536, 4096), hpack.Decoder()
    first = enc.encode([FIELDS[0], FIELDS[2]])  # inserts both into the dynamic table
    again = enc.encode([FIELDS[0], FIELDS[2]])  # now two dynamic-table references
    for block in (first, again, again, again):
        assert cached.decode(block) == ref.decode(block, raw=True)
    assert cached.hits == 2
    changed = enc.encode([FIELDS[1]])  # a new insert shifts every dynamic index
    assert cached.decode(changed) == ref.decode(changed, raw=True)
    # the old bytes now mean something else: decoded afresh, not served from the cache
    assert cached.decode(again) == ref.decode(again, raw=True) != [FIELDS[0], FIELDS[2]]
    assert cached.hits == 2


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4), st.booleans()), min_size=1, max_size=12
    ),
    st.sampled_from([0, 256, 4096]),
)
def test_any_sequence_of_blocks_decodes_like_hpack(steps: list[tuple[list[tuple[bytes, bytes]], bool]],
                                                   resize: int) -> None:  # fmt: skip
    enc, cached, ref = hpack.Encoder(), CachingDecoder(65536, 4096), hpack.Decoder()
    sent: list[bytes] = []
    for i, (fields, replay_old) in enumerate(steps):
        if i == len(steps) // 2:
            enc.header_table_size = resize  # a dynamic table size update in the next block
        block = sent[0] if replay_old and sent else enc.encode(fields)
        sent.append(block)
        assert _outcome(cached.decode, block) == _outcome(lambda b: ref.decode(b, raw=True), block)


def _outcome(decode: Callable[[bytes], object], block: bytes) -> object:
    """The decoded list, or the error's type (an old block replayed may name an index no longer there)."""
    try:
        return decode(block)
    except hpack.HPACKError as exc:
        return type(exc)
