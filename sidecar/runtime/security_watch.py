"""A registry refresher copying the security parts' counters into `Registry.security` (for /metrics).

The parts keep their counters on their own objects (the workload's Credentials, each listener's
PeerCheck and HandshakeFailures, the connector's ClientTls, the admin and metrics AccessGuards, the JWT
KeyCaches, the OAuth2 TokenSources); this reads them at each scrape, off the data path, as
`ClusterWatch` does for the cluster mechanisms. It reads attributes only and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sidecar.telemetry.registry import Registry
from sidecar.telemetry.security_metrics import ListenerSecurity, SecurityView, TokenRoute

if TYPE_CHECKING:
    from sidecar.admin.access import AccessGuard
    from sidecar.runtime.stack import State
    from sidecar.runtime.workload import Workload
    from sidecar.security.tls import ListenerTls


def token_counters(
    state: State,
) -> tuple[dict[str, dict[str, int]], dict[str, int], dict[tuple[str, str], TokenRoute]]:
    """(provider -> KeyCache counters, provider -> keys in force, (listener, route) -> TokenRoute): what the
    JWT key caches and OAuth2 token sources counted (for /metrics and `apex admin security`)."""
    caches = list(state.jwks.by_name.items())
    jwks = {name: dict(cache.counters) for name, cache in caches}
    keys = {name: 0 if cache.keys is None else len(cache.keys.keys) for name, cache in caches}
    oauth2 = {}
    for key, (_, source) in list(state.routes.tokens.items()):
        token = source.state.token
        oauth2[key] = TokenRoute(dict(source.counts), None if token is None else token.expires_at)
    return jwks, keys, oauth2


class SecurityWatch:
    """`guards()` names the access guards in force ("admin", "metrics"); `access_tls` the TLS of the
    metrics listener when it speaks HTTPS."""

    def __init__(
        self,
        registry: Registry,
        state: State,
        workload: Workload | None,
        guards: Callable[[], Mapping[str, AccessGuard]],
        access_tls: Mapping[str, ListenerTls],
    ) -> None:
        self._registry = registry
        self._state = state
        self._workload = workload
        self._guards = guards
        self._access_tls = access_tls

    def __call__(self) -> None:
        self._registry.security = self.view()

    def view(self) -> SecurityView:
        identity, not_after, generation = "", None, 0
        listeners: dict[str, ListenerSecurity] = {}
        outbound: dict[str, int] = {}
        workload = self._workload
        if workload is not None:
            identity = str(workload.security.identity)
            material = workload.credentials.current()
            if material is not None:
                not_after, generation = material.not_after, material.generation
            for name, tls in list(workload.listeners.items()):
                check = tls.check
                listeners[name] = ListenerSecurity(
                    check.mode.value, dict(check.accepted), dict(check.rejected), dict(tls.handshakes)
                )
            outbound = dict(workload.client_tls.handshakes)
        jwks, keys, oauth2 = token_counters(self._state)
        return SecurityView(
            identity=identity,
            certificate_not_after=not_after,
            certificate_generation=generation,
            listeners=listeners,
            outbound_handshake_failures=outbound,
            access_refused={name: dict(guard.refused) for name, guard in self._guards().items()},
            access_handshake_failures={name: dict(tls.handshakes) for name, tls in self._access_tls.items()},
            jwks=jwks,
            jwks_keys=keys,
            oauth2=oauth2,
        )
