"""The publisher's offline buffer: order kept, bounded, every drop counted, low priority dropped first."""

from __future__ import annotations

import pytest
from apex.mesh.bus import OfflineBuffer, Priority, parse_priority


def drain(buffer: OfflineBuffer) -> list[bytes]:
    out = []
    while buffer.peek() is not None:
        out.append(buffer.pop().fields[b"n"])
    return out


def test_keeps_order_under_capacity() -> None:
    buffer = OfflineBuffer(5)
    for i in range(5):
        assert buffer.put(Priority.MEDIUM, {b"n": str(i).encode()})
    assert drain(buffer) == [b"0", b"1", b"2", b"3", b"4"] and buffer.dropped == 0


def test_overflow_drops_the_oldest_lowest_priority_and_counts_it() -> None:
    buffer = OfflineBuffer(3)
    buffer.put(Priority.HIGH, {b"n": b"h1"})
    buffer.put(Priority.LOW, {b"n": b"l1"})
    buffer.put(Priority.LOW, {b"n": b"l2"})
    assert buffer.put(Priority.MEDIUM, {b"n": b"m1"})  # l1 makes room
    assert buffer.put(Priority.LOW, {b"n": b"l3"})  # l2 (oldest LOW) makes room
    assert drain(buffer) == [b"h1", b"m1", b"l3"]
    assert buffer.dropped == 2 and buffer.dropped_by_priority == {Priority.LOW: 2}


def test_a_newcomer_below_everything_buffered_is_the_one_dropped() -> None:
    buffer = OfflineBuffer(2)
    buffer.put(Priority.CRITICAL, {b"n": b"c1"})
    buffer.put(Priority.HIGH, {b"n": b"h1"})
    assert not buffer.put(Priority.LOW, {b"n": b"l1"})
    assert drain(buffer) == [b"c1", b"h1"]
    assert buffer.dropped == 1 and buffer.dropped_by_priority == {Priority.LOW: 1}


def test_priority_names() -> None:
    assert parse_priority("high") is Priority.HIGH
    with pytest.raises(ValueError, match="unknown priority 'urgent': expected one of LOW, MEDIUM, HIGH, CRITICAL"):
        parse_priority("urgent")
    with pytest.raises(ValueError, match="at least 1"):
        OfflineBuffer(0)


def test_the_bus_imports_neither_the_sidecar_nor_the_engines() -> None:
    """Services and engines both use it: it must stand beside the contract, below both."""
    import ast
    from pathlib import Path

    import apex.mesh.bus

    for path in Path(apex.mesh.bus.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in {"sidecar", "engines"}, f"{path.name} imports {name}"
