"""One h2 transport per sidecar: listeners and a pooled connector, each taking an optional SSL context."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from sidecar.core.transport import H2Settings, Listener, ListenerSpec, Prober, Switch
from sidecar.security.tls import ClientTls
from sidecar.transport.h2.aio import Ledger
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
        self._connectors: dict[H2Settings, H2Connector] = {}  # one per distinct cluster settings
        self.ledger = Ledger()  # what all its connections hold (admin Stats.transport: h2.*)

    def listener(self, spec: ListenerSpec, switch: Switch) -> Listener:
        return H2Listener(spec, switch, self._server_ssl, spec.h2, ledger=self.ledger)

    def connector(self, h2: H2Settings | None = None) -> H2Connector:
        settings = h2 or H2Settings()
        connector = self._connectors.get(settings)
        if connector is None:
            connector = H2Connector(self._client_ssl, settings, ledger=self.ledger, tls=self._tls)
            self._connectors[settings] = connector
        return connector

    def prober(self) -> Prober:
        # Health checks go over the default transport (Transports.prober); this one is for completeness.
        from sidecar.transport.grpc_aio.health_probe import HealthProber

        return HealthProber(self._tls)

    def learned(self) -> Mapping[str, str]:
        return {}  # HTTP/2 needs no method kinds: every call is a stream on the wire

    def stats(self) -> Mapping[str, int]:
        return {
            "connections": len(self.ledger.connections),
            "held_bytes": self.ledger.held(),
            "held_bytes_peak_per_connection": self.ledger.peak,
        }

    async def close(self) -> None:
        for connector in self._connectors.values():
            await connector.close()
        self._connectors.clear()
