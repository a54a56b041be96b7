"""Validated conversion of the transport fields: transport names (listeners, clusters) and wire limits."""

from __future__ import annotations

from apex.mesh.v1 import config_pb2

from sidecar.core.transport import DEFAULT_TRANSPORT, REGISTRY, WireLimits, known
from sidecar.policy.errors import ConfigError

# grpc core takes its limits as C ints.
MAX_LIMIT = 2**31 - 1


def transport_name(value: str, path: str) -> str:
    """The transport a listener or cluster names (empty: the default), checked against the registry."""
    name = value or DEFAULT_TRANSPORT
    if name not in REGISTRY:
        raise ConfigError(f"{path}.transport", f"unknown transport {name!r} (known transports: {', '.join(known())})")
    return name


def wire_limits(msg: config_pb2.WireLimits, path: str) -> WireLimits:
    """A listener's limits; a field left at 0 takes the default (docs/limits.md)."""
    defaults = WireLimits()
    values: dict[str, int] = {}
    for name in ("max_message_bytes", "max_metadata_bytes", "max_concurrent_streams"):
        value = int(getattr(msg, name))
        if value > MAX_LIMIT:
            raise ConfigError(f"{path}.limits.{name}", f"{value} is above the maximum {MAX_LIMIT}")
        values[name] = value or getattr(defaults, name)
    return WireLimits(**values)
