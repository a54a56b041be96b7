"""The publisher's pure parts: the drop-oldest buffer; stream keys from the shared contract."""

from __future__ import annotations

from apex.mesh.contract.streams import dead_letter_key, events_key, telemetry_key

from sidecar.telemetry.publisher import Buffer


def test_buffer_drops_oldest_and_counts() -> None:
    buf = Buffer(3)
    for i in range(5):
        buf.push(bytes([i]))
    assert list(buf.items) == [b"\x02", b"\x03", b"\x04"] and buf.dropped == 2


def test_put_back_keeps_order_and_drops_the_oldest_when_new_windows_arrived_meanwhile() -> None:
    buf = Buffer(4)
    for i in range(3):
        buf.push(bytes([i]))
    batch = buf.take(10)
    assert batch == [b"\x00", b"\x01", b"\x02"] and len(buf) == 0
    buf.push(b"\x03")
    buf.push(b"\x04")  # rolled while the failed send was in flight
    buf.put_back(batch)
    assert list(buf.items) == [b"\x01", b"\x02", b"\x03", b"\x04"] and buf.dropped == 1


def test_stream_keys_use_a_cluster_hash_tag() -> None:
    assert telemetry_key("cart") == "apex:telemetry:{cart}"
    assert events_key("cart") == "apex:events:{cart}"
    assert dead_letter_key(telemetry_key("cart")) == "apex:dead:telemetry:{cart}"
