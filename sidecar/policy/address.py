"""Parse and print `host:port` addresses (IPv6 literals in brackets)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def is_wildcard(self) -> bool:
        return self.host in ("", "0.0.0.0", "::", "[::]")


def parse_address(text: str, *, allow_port_zero: bool = False) -> Address:
    """Parse `host:port`; raise ValueError with a readable reason."""
    text = text.strip()
    if not text:
        raise ValueError("address is empty; expected host:port")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad address {text!r}; expected [ipv6]:port")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"bad address {text!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad address {text!r}: no port; expected host:port")
        if ":" in host:
            raise ValueError(f"bad address {text!r}: put IPv6 addresses in brackets, e.g. [::1]:50051")
        if not _HOSTNAME.match(host) or any(label.endswith("-") for label in host.rstrip(".").split(".")):
            raise ValueError(f"bad address {text!r}: {host!r} is not a valid host name or IP")
        if host.rstrip(".").rpartition(".")[2].isdigit():  # an all-numeric top label: it can only be an IPv4
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError(f"bad address {text!r}: {host!r} is not a valid IPv4 address") from None
    if not port_text.isdigit():
        raise ValueError(f"bad address {text!r}: port {port_text!r} is not a number")
    port = int(port_text)
    if port > 65535 or (port == 0 and not allow_port_zero):
        low = 0 if allow_port_zero else 1
        raise ValueError(f"bad address {text!r}: port {port} is outside {low}..65535")
    return Address(host, port)
