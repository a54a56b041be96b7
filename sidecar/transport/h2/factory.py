"""One h2 transport per sidecar: listeners and a pooled connector, each taking an optional SSL context."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from sidecar.core.transport import Listener, ListenerSpec, Prober, Switch
from sidecar.security.tls import ClientTls
from sidecar.transport.h2.connector import H2Connector
from sidecar.transport.h2.listener import H2Listener


class H2Transport:
    """mTLS: `tls` gives the connector the workload certificate (it follows rotation); a listener
    takes its own from `ListenerSpec.tls`. Plain TLS: server/client SSL contexts (ALPN `h2` set here)."""

    def __init__(
        self,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        for context in (server_ssl, client_ssl):
            if context is not None:
                context.set_alpn_protocols(["h2"])
        self._server_ssl = server_ssl
        self._client_ssl = client_ssl
        self._tls = tls
        self._connector: H2Connector | None = None

    def listener(self, spec: ListenerSpec, switch: Switch) -> Listener:
        return H2Listener(spec, switch, self._server_ssl)

    def connector(self) -> H2Connector:
        if self._connector is None:
            self._connector = H2Connector(self._client_ssl, tls=self._tls)
        return self._connector

    def prober(self) -> Prober:
        # Health checks go over the default transport (Transports.prober); this one is for completeness.
        from sidecar.transport.grpc_aio.health_probe import HealthProber

        return HealthProber(self._tls)

    def learned(self) -> Mapping[str, str]:
        return {}  # HTTP/2 needs no method kinds: every call is a stream on the wire

    async def close(self) -> None:
        if self._connector is not None:
            await self._connector.close()
