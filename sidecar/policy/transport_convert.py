"""Validated conversion of the transport fields: transport names (listeners, clusters) and wire limits."""

from __future__ import annotations

from apex.mesh.v1 import config_pb2

from sidecar.core.transport import DEFAULT_TRANSPORT, REGISTRY, H2Settings, WireLimits, known
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import positive_seconds

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


MIN_WINDOW = 65_535  # HTTP/2's initial window: a smaller one would stall the peer's first frames
_WHERE = {  # which side each h2 field applies to
    "header_timeout": "listener",
    "idle_timeout": "listener",
    "connect_timeout": "cluster",
    "keepalive_interval": "cluster",
}


def h2_settings(msg: config_pb2.Listener | config_pb2.Cluster, transport: str, side: str, path: str) -> H2Settings:
    """A listener's or cluster's `h2:` settings (transport h2 only), unset fields at their defaults."""
    if not msg.HasField("h2"):
        return H2Settings()
    h2 = msg.h2
    where = f"{path}.h2"
    if transport != "h2":
        raise ConfigError(where, f"h2 settings apply to transport h2 only; this {side} uses transport {transport!r}")
    defaults = H2Settings()
    values: dict[str, float | int] = {}
    for name, applies in _WHERE.items():
        if h2.HasField(name) and applies != side:
            raise ConfigError(f"{where}.{name}", f"applies to a {applies}, not a {side}")
        values[name] = positive_seconds(h2, name, where, getattr(defaults, name))
    stream = h2.stream_window_bytes or defaults.stream_window
    connection = h2.connection_window_bytes or defaults.connection_window
    for name, value in (("stream_window_bytes", stream), ("connection_window_bytes", connection)):
        if not MIN_WINDOW <= value <= MAX_LIMIT:
            raise ConfigError(f"{where}.{name}", f"{value} is outside {MIN_WINDOW}..{MAX_LIMIT}")
    if connection < stream:
        raise ConfigError(
            f"{where}.connection_window_bytes", f"{connection} is below stream_window_bytes ({stream}): one "
            "stream could never use its whole window"
        )  # fmt: skip
    return H2Settings(stream_window=stream, connection_window=connection, **values)
