"""Pure helpers of a control-plane replica: advertised addresses and registry records on the wire."""

from __future__ import annotations

from engines.control.hub import advertised, from_status, to_status
from engines.control.registry import Instance, Nack


def test_a_wildcard_host_is_replaced_by_the_peer_ip() -> None:
    assert advertised("0.0.0.0:8080", "ipv4:10.1.2.3:5555") == "10.1.2.3:8080"
    assert advertised("[::]:8080", "ipv6:[fd00::1]:5555") == "[fd00::1]:8080"
    assert advertised("10.0.0.1:8080", "ipv4:10.1.2.3:5555") == "10.0.0.1:8080"
    assert advertised("0.0.0.0:8080", "unix:/tmp/sock") == "0.0.0.0:8080"


def test_registry_records_round_trip_through_instance_status() -> None:
    record = Instance(
        service="echo",
        instance="echo-1",
        address="10.0.0.1:80",
        zone="z",
        sidecar_version="apex-mesh/1",
        labels=(("a", "b"),),
        replica="cp-1",
        connected=False,
        last_heartbeat=1700000000.25,
        updated=1700000001.5,
        applied_version="3",
        pushed_version="4",
        last_nack=Nack("4", "policy.route_tables", "missing"),
        bound_keys=("ab" * 32, "cd" * 32),
        identity="spiffe://cluster.local/ns/default/sa/echo",
    )
    status = to_status(record, healthy=False)
    assert not status.healthy and status.last_nack_field == "policy.route_tables"
    assert from_status(status) == record
