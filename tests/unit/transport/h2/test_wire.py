"""gRPC framing, grpc-timeout and metadata of the h2 transport; the frame reader across any split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.transport.h2 import frames as f
from sidecar.transport.h2.grpc_wire import (
    MessageDecoder,
    MessageTooLarge,
    encode_message,
    encode_timeout,
    headers_from_metadata,
    metadata_from_headers,
    parse_timeout,
)

messages = st.lists(st.binary(max_size=300), max_size=6)
cuts = st.lists(st.integers(min_value=0, max_value=2000), max_size=8)


def _split(data: bytes, at: list[int]) -> list[bytes]:
    points = sorted({min(a, len(data)) for a in at})
    return [data[i:j] for i, j in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=150, deadline=None)
@given(messages, cuts)
def test_messages_survive_any_split_across_data_frames(msgs: list[bytes], at: list[int]) -> None:
    wire = b"".join(encode_message(m) for m in msgs)
    decoder = MessageDecoder()
    got = [m for part in _split(wire, at) for _, m in decoder.feed(part)]
    assert got == msgs
    assert decoder.buffered == 0


def test_message_over_limit_is_refused_from_its_prefix_alone() -> None:
    decoder = MessageDecoder(max_message=1000)
    with pytest.raises(MessageTooLarge, match="1001 bytes exceeds the limit of 1000"):
        decoder.feed(b"\x00" + (1001).to_bytes(4, "big"))  # no body buffered: refused at the prefix


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 9), st.binary(max_size=100)),
                max_size=6), cuts)
def test_frame_reader_yields_the_same_frames_for_any_split(
    spec: list[tuple[int, int, int, bytes]], at: list[int]
) -> None:
    wire = b"".join(f.frame(k, fl, s, p) for k, fl, s, p in spec)
    reader = f.FrameReader()
    assert [fr for part in _split(wire, at) for fr in reader.feed(part)] == spec


def test_frame_reader_refuses_a_frame_over_max_frame_size_before_buffering_it() -> None:
    reader = f.FrameReader(16_384)
    with pytest.raises(f.FrameError, match="exceeds SETTINGS_MAX_FRAME_SIZE"):
        reader.feed(bytes((0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 1)))  # header of a 65536-byte frame


@pytest.mark.parametrize(("text", "seconds"), [(b"1H", 3600.0), (b"2M", 120.0), (b"3S", 3.0), (b"250m", 0.25),
                                               (b"7u", 7e-6), (b"99999999n", 0.099999999)])
def test_grpc_timeout_parses_every_unit(text: bytes, seconds: float) -> None:
    assert parse_timeout(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", [b"", b"S", b"10", b"123456789S", b"1x", b"-1S", b"1.5S"])
def test_malformed_grpc_timeout_is_an_error_naming_the_value(bad: bytes) -> None:
    with pytest.raises(ValueError, match="malformed grpc-timeout"):
        parse_timeout(bad)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-9, max_value=3.5e11, allow_nan=False))
def test_encoded_timeout_fits_8_digits_and_never_arrives_early(seconds: float) -> None:
    text = encode_timeout(seconds)
    assert len(text) <= 9
    assert parse_timeout(text) >= seconds * (1 - 1e-12)
    assert parse_timeout(text) <= seconds * 1.01 + 1e-9  # the most precise unit that fits


def test_metadata_keeps_repeated_keys_in_order_and_decodes_bin() -> None:
    metadata: list[tuple[str, str | bytes]] = [("x-a", "1"), ("x-b-bin", b"\x00\xff"), ("x-a", "2"), ("x-b-bin", b"")]
    headers = [(b":path", b"/s/m"), (b"content-type", b"application/grpc"), (b"grpc-timeout", b"1S"),
               *headers_from_metadata(metadata)]
    assert metadata_from_headers(headers) == metadata


def test_bin_metadata_accepts_padded_base64_and_refuses_garbage() -> None:
    assert metadata_from_headers([(b"k-bin", b"AP8=")]) == [("k-bin", b"\x00\xff")]
    with pytest.raises(ValueError, match="malformed -bin"):
        metadata_from_headers([(b"k-bin", b"!!")])
