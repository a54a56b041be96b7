"""The transport seam: declared Listener and Transport protocols, wire limits, and the transport registry.

A transport is a package under `sidecar/transport/` whose module exposes `transport() -> Transport`.
The sidecar asks `Transports` for a listener per configured listener and for a connector per
cluster, by the name given in config (`transport: grpc`); nothing else names a transport.
Nothing here imports a wire library: the registry holds module paths, imported on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sidecar.core.call import Code
from sidecar.core.service import BufferedResponse, Connector, Request, Service, local_error

if TYPE_CHECKING:
    from sidecar.security.tls import ClientTls, ListenerTls

DEFAULT_TRANSPORT = "grpc"

# Transport name (the config value) → the package that builds its listeners and connector.
REGISTRY: Mapping[str, str] = {
    "grpc": "sidecar.transport.grpc_aio",
    "h2": "sidecar.transport.h2",  # issue 13: HTTP/2 on asyncio (docs/data-plane.md); not the default yet
}

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class WireLimits:
    """What a listener accepts per connection before any policy runs (docs/limits.md)."""

    max_message_bytes: int = 16 * MiB  # one request message; over: RESOURCE_EXHAUSTED
    max_metadata_bytes: int = 16 * KiB  # a request's header list (grpc's own hard default)
    max_concurrent_streams: int = 1000  # advertised (SETTINGS_MAX_CONCURRENT_STREAMS); callers queue beyond


@dataclass(frozen=True, slots=True)
class H2Settings:
    """Transport h2's connection timeouts (seconds) and receive windows (bytes); config `h2:` of a
    listener (header/idle timeouts, windows) or a cluster (connect timeout, keepalive, windows)."""

    header_timeout: float = 10.0
    idle_timeout: float = 300.0
    connect_timeout: float = 5.0
    keepalive_interval: float = 30.0
    stream_window: int = 1 * MiB
    connection_window: int = 4 * MiB


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """What a transport needs to open one listener."""

    name: str
    address: str  # host:port to bind; port 0 picks a free port
    default_authority: str = ""
    limits: WireLimits = field(default_factory=WireLimits)
    tls: ListenerTls | None = None  # None: plaintext (docs/security.md)
    h2: H2Settings = field(default_factory=H2Settings)  # read by transport h2 only


class Switch:
    """Holds the service currently serving a listener; swapping it is atomic for new calls."""

    __slots__ = ("service",)

    def __init__(self, service: Service) -> None:
        self.service = service


class Listener(Protocol):
    """A bound server that turns wire calls into Requests for `switch.service`."""

    @property
    def name(self) -> str: ...

    @property
    def bound(self) -> str:
        """The bound `host:port` once started (port 0 resolved); empty before."""
        ...

    async def start(self) -> str:
        """Bind and start serving; return the bound address."""
        ...

    async def stop(self, grace: float | None) -> None:
        """Stop accepting, let in-flight calls finish for up to `grace` seconds, then close."""
        ...


class Prober(Protocol):
    """Active health checks (grpc.health.v1 Check) over a transport's own connections."""

    async def check(self, address: str, authority: str, service: str, timeout: float) -> tuple[bool, str]:
        """(passed, detail): passed only for an answer of SERVING within `timeout`."""
        ...

    def keep(self, endpoints: set[tuple[str, str]]) -> None:
        """Close connections to (address, authority) pairs no longer checked."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """One transport inside one sidecar. Its listeners and its connector may share what they
    learn (the grpc transport shares which methods are unary); nobody else needs to know."""

    def listener(self, spec: ListenerSpec, switch: Switch) -> Listener: ...

    def connector(self, h2: H2Settings | None = None) -> Connector:
        """The transport's connector (one per transport per sidecar, and per distinct `h2` settings
        for transport h2; it pools its connections). Other transports ignore `h2`."""
        ...

    def prober(self) -> Prober:
        """A health prober with connections of its own (apart from the data path's)."""
        ...

    def learned(self) -> Mapping[str, str]:
        """What the transport learned about methods (method path → kind), for the admin dump."""
        ...

    def stats(self) -> Mapping[str, int]:
        """The transport's own gauges (e.g. bytes its connections hold), for admin GetStats."""
        ...

    async def close(self) -> None:
        """Close the connector's connections (listeners are stopped by their owner)."""
        ...


async def _no_identity(address: str, authority: str, request: Request) -> BufferedResponse:
    return local_error(
        Code.UNAVAILABLE, "apex: the cluster asks for mTLS but this sidecar has no workload identity (no `security`)"
    )


class _LazyProber:
    """A Prober made on its first check."""

    def __init__(self, make: Callable[[], Prober]) -> None:
        self._make = make
        self._prober: Prober | None = None

    async def check(self, address: str, authority: str, service: str, timeout: float) -> tuple[bool, str]:
        if self._prober is None:
            self._prober = self._make()
        return await self._prober.check(address, authority, service, timeout)

    def keep(self, endpoints: set[tuple[str, str]]) -> None:
        if self._prober is not None:
            self._prober.keep(endpoints)

    async def close(self) -> None:
        if self._prober is not None:
            await self._prober.close()


class TransportModule(Protocol):
    def transport(self, tls: ClientTls | None = None) -> Transport: ...


def known() -> tuple[str, ...]:
    """The transport names a config may use."""
    return tuple(sorted(REGISTRY))


def load(name: str, tls: ClientTls | None = None) -> Transport:
    """A fresh instance of transport `name` (validated config names only: KeyError otherwise);
    with `tls`, its connector speaks mTLS to upstreams."""
    module: TransportModule = importlib.import_module(REGISTRY[name])
    return module.transport(tls) if tls is not None else module.transport()


class Transports:
    """The transports one sidecar uses, each loaded on first use and shared by its listeners and clusters."""

    def __init__(self, preset: Mapping[str, Transport] | None = None, tls: ClientTls | None = None) -> None:
        self._loaded: dict[str, Transport] = dict(preset or {})
        self._secure: dict[str, Transport] = {}  # the same transports whose connectors speak mTLS
        self._tls = tls

    def get(self, name: str) -> Transport:
        transport = self._loaded.get(name)
        if transport is None:
            transport = self._loaded[name] = load(name)
        return transport

    def secure(self, name: str, server_identity: str = "") -> Transport | None:
        """Transport `name` with an mTLS connector (expecting `server_identity` upstream when given: one
        instance per expected identity, sharing the workload's credentials and handshake counters);
        None when this sidecar has no workload identity."""
        if self._tls is None:
            return None
        key = f"{name}\0{server_identity}"
        transport = self._secure.get(key)
        if transport is None:
            tls = dataclasses.replace(self._tls, server_identity=server_identity)
            transport = self._secure[key] = load(name, tls)
        return transport

    def listener(self, transport: str, spec: ListenerSpec, switch: Switch) -> Listener:
        return self.get(transport).listener(spec, switch)

    def connector(
        self, transport: str, mtls: bool = False, h2: H2Settings | None = None, server_identity: str = ""
    ) -> Connector:
        """The connector of `transport`; with `mtls`, one presenting the workload certificate
        (a sidecar without an identity answers every call UNAVAILABLE, saying why) and accepting only
        `server_identity` upstream when given. `h2`: a cluster's own settings for transport h2
        (validated config sets them on h2 clusters only)."""
        chosen = self.get(transport) if not mtls else self.secure(transport, server_identity)
        if chosen is None:
            return _no_identity
        if h2 is not None and h2 != H2Settings():
            return chosen.connector(h2)
        return chosen.connector()

    def prober(self) -> Prober:
        """The health prober: health checks go over the default transport, whatever carries the calls
        (with mTLS when this sidecar has an identity: plaintext endpoints are probed plaintext). That
        transport is loaded at the first check: a sidecar all on h2 without health checks never loads it."""
        return _LazyProber(lambda: self.get(DEFAULT_TRANSPORT).prober())

    def snapshot(self) -> dict[str, str]:
        """Method kinds learned by every loaded transport (admin `method_kinds`)."""
        merged: dict[str, str] = {}
        for transport in self._loaded.values():
            merged.update(transport.learned())
        return dict(sorted(merged.items()))

    def stats(self) -> dict[str, int]:
        """Every loaded transport's gauges, as `<transport>.<name>` (admin Stats.transport), mTLS ones summed in."""
        merged: dict[str, int] = {}
        for group in (self._loaded, self._secure):
            for name, transport in group.items():
                for key, value in transport.stats().items():
                    merged[f"{name}.{key}"] = merged.get(f"{name}.{key}", 0) + value
        return dict(sorted(merged.items()))

    async def close(self) -> None:
        loaded, self._loaded = [*self._loaded.values(), *self._secure.values()], {}
        self._secure = {}
        for transport in loaded:
            await transport.close()
