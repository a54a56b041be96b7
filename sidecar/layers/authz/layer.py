"""The authz layer: PERMISSION_DENIED with the reason when the route's policies deny a call; counted.

Counters (the route's series; `apex_route_policy_decisions_total{decision=...}`, telemetry windows):
`authz_allowed`, `authz_denied` (a DENY rule matched), `authz_denied_default` (no ALLOW rule
matched), and with dry-run policies `authz_shadow_would_deny` / `authz_shadow_would_allow` for calls
whose answer the dry-run policies would change.
"""

from __future__ import annotations

from sidecar.core.call import Code
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.layers.authz.decide import evaluate
from sidecar.policy.auth_model import AuthzPolicy, selects
from sidecar.telemetry.registry import Series

ALLOWED = "authz_allowed"
SHADOW_DENY = "authz_shadow_would_deny"
SHADOW_ALLOW = "authz_shadow_would_allow"


def policies_for(
    policies: tuple[AuthzPolicy, ...], listener: str, inbound: bool, route: str
) -> tuple[AuthzPolicy, ...]:
    """The policies selecting this route of this listener (empty: no authz layer)."""
    return tuple(p for p in policies if selects(p.listeners, p.routes, listener, inbound, route))


class Authz:
    """Enforce `policies` (those selecting one route) before anything below can answer."""

    name = "authz"

    def __init__(self, policies: tuple[AuthzPolicy, ...], series: Series) -> None:
        self.policies = policies
        self.series = series

    def __call__(self, inner: Service) -> Service:
        series, everything = self.series, self.policies
        enforced = tuple(p for p in everything if not p.dry_run)
        rehearsed = len(enforced) != len(everything)  # dry-run policies: a second, counted-only answer

        async def authz(request: Request) -> Response:
            decision = evaluate(enforced, request.call)
            allowed = decision.outcome.allowed
            if rehearsed and (shadow := evaluate(everything, request.call).outcome.allowed) != allowed:
                series.count(SHADOW_ALLOW if shadow else SHADOW_DENY)
            if not allowed:
                series.count(f"authz_{decision.outcome.value}")
                return local_error(Code.PERMISSION_DENIED, decision.message)
            series.count(ALLOWED)
            return await inner(request)

        return authz
