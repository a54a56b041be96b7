"""One grpc.aio transport per sidecar: its listeners and its connector share the method kinds."""

from __future__ import annotations

from collections.abc import Mapping

from sidecar.core.transport import H2Settings, Listener, ListenerSpec, Prober, Switch
from sidecar.security.tls import ClientTls
from sidecar.transport.grpc_aio.channels import ChannelPool
from sidecar.transport.grpc_aio.client import GrpcConnector
from sidecar.transport.grpc_aio.health_probe import HealthProber
from sidecar.transport.grpc_aio.method_kinds import MethodKinds
from sidecar.transport.grpc_aio.server import GrpcListener


class GrpcAioTransport:
    """The connector learns which methods are unary (reflection); the listeners read the same
    MethodKinds to take the unary relay for them. Nothing outside this package sees it."""

    def __init__(self, tls: ClientTls | None = None) -> None:
        self.kinds = MethodKinds()
        self._tls = tls
        self._connector: GrpcConnector | None = None

    def listener(self, spec: ListenerSpec, switch: Switch) -> Listener:
        return GrpcListener(spec, switch, self.kinds)

    def connector(self, h2: H2Settings | None = None) -> GrpcConnector:
        if self._connector is None:
            self._connector = GrpcConnector(self.kinds, ChannelPool(tls=self._tls))
        return self._connector

    def prober(self) -> Prober:
        return HealthProber(self._tls)

    def learned(self) -> Mapping[str, str]:
        return self.kinds.snapshot()

    def stats(self) -> Mapping[str, int]:
        return {}  # grpc core keeps its buffers to itself

    async def close(self) -> None:
        if self._connector is not None:
            await self._connector.close()
