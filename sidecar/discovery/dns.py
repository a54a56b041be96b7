"""Resolve DNS names among cluster endpoints, and re-resolve them periodically."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable

from sidecar.discovery.endpoints import EndpointSet
from sidecar.policy.address import Address

log = logging.getLogger(__name__)


def prefer_ipv4(addresses: Iterable[str]) -> list[str]:
    """IPv4 answers when there are any, else IPv6 (Envoy's V4_PREFERRED lookup family)."""
    unique = sorted(set(addresses))
    v4 = [a for a in unique if ipaddress.ip_address(a).version == 4]
    return v4 or unique


def format_endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def resolve(name: Address) -> list[str]:
    """`name` → ["ip:port", ...]; raises OSError when the lookup fails."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name.host, name.port, type=socket.SOCK_STREAM)
    ips = prefer_ipv4(str(info[4][0]) for info in infos)
    return [format_endpoint(ip, name.port) for ip in ips]


async def refresh_once(endpoints: EndpointSet) -> bool:
    """Resolve every name of one cluster; names that fail keep their last answer."""
    results: dict[Address, list[str]] = {}
    for name in endpoints.names:
        try:
            results[name] = await resolve(name)
        except OSError as exc:
            log.warning("dns lookup of %s for cluster %s failed: %s", name, endpoints.cluster.name, exc)
    return endpoints.update(results)


async def watch(sets: Callable[[], Iterable[EndpointSet]], tick: float = 0.5) -> None:
    """Re-resolve each cluster's names every `dns_refresh`; `sets()` gives the current clusters."""
    loop = asyncio.get_running_loop()
    while True:
        now = loop.time()
        for endpoints in sets():
            if endpoints.names and endpoints.next_refresh <= now:
                endpoints.next_refresh = now + endpoints.cluster.dns_refresh
                if await refresh_once(endpoints):
                    log.info(
                        "cluster %s endpoints now %s", endpoints.cluster.name, [r.address for r in endpoints.current]
                    )
        await asyncio.sleep(tick)
