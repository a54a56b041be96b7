"""sidecar.cli.jsonout: 64-bit counts come out as JSON numbers (protobuf's JSON mapping makes them strings)."""

from __future__ import annotations

from apex.mesh.v1 import cache_pb2, telemetry_pb2

from sidecar.cli.jsonout import message_dict


def test_uint64_counts_nested_repeated_and_in_maps_are_numbers() -> None:
    stats = cache_pb2.CacheStats(entries=3)
    stats.methods.add(method="/a.B/C", hits=5)
    d = message_dict(stats)
    assert d["entries"] == 3 and d["methods"][0]["hits"] == 5 and d["max_bytes"] == 0
    agg = telemetry_pb2.Aggregate(calls=2)
    agg.status_codes["OK"] = 2
    agg.counters["retries"] = 1
    d = message_dict(agg)
    assert d["calls"] == 2 and d["status_codes"] == {"OK": 2} and d["counters"] == {"retries": 1}
