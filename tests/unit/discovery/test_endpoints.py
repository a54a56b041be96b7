"""Endpoint sets: IPs known at once, DNS names resolved (real resolver on localhost) and re-resolved."""

from __future__ import annotations

import asyncio

from sidecar.discovery import dns
from sidecar.discovery.endpoints import EndpointSet
from sidecar.policy.address import Address
from sidecar.policy.model import Cluster, Endpoint


def cluster(*addresses: str) -> Cluster:
    return Cluster("c", tuple(Endpoint(Address(*a.rsplit(":", 1)[:1], int(a.rsplit(":", 1)[1])), 2) for a in addresses))


def test_ip_endpoints_are_known_without_dns() -> None:
    eps = EndpointSet(cluster("10.0.0.1:80", "10.0.0.2:80"))
    assert [r.address for r in eps.current] == ["10.0.0.1:80", "10.0.0.2:80"]
    assert eps.names == ()
    assert all(r.weight == 2 for r in eps.current)


def test_names_wait_for_dns_and_update_reports_changes() -> None:
    eps = EndpointSet(cluster("catalog:50051", "10.0.0.9:1"))
    assert [r.address for r in eps.current] == ["10.0.0.9:1"]
    name = Address("catalog", 50051)
    assert eps.update({name: ["10.1.0.2:50051", "10.1.0.1:50051"]}) is True
    assert [r.address for r in eps.current] == ["10.1.0.1:50051", "10.1.0.2:50051", "10.0.0.9:1"]
    assert eps.update({name: ["10.1.0.1:50051", "10.1.0.2:50051"]}) is False
    assert eps.current[0].origin == "catalog:50051"


def test_prefer_ipv4() -> None:
    assert dns.prefer_ipv4(["::1", "127.0.0.1"]) == ["127.0.0.1"]
    assert dns.prefer_ipv4(["::1"]) == ["::1"]
    assert dns.format_endpoint("::1", 80) == "[::1]:80"


def test_localhost_resolves_for_real() -> None:
    eps = EndpointSet(cluster("localhost:7000"))
    assert asyncio.run(dns.refresh_once(eps)) is True
    assert [r.address for r in eps.current] == ["127.0.0.1:7000"]


def test_failed_lookup_keeps_last_answer() -> None:
    eps = EndpointSet(cluster("no-such-host.invalid:7000"))
    eps.update({Address("no-such-host.invalid", 7000): ["10.9.9.9:7000"]})
    assert asyncio.run(dns.refresh_once(eps)) is False
    assert [r.address for r in eps.current] == ["10.9.9.9:7000"]
