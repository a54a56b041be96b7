"""The demo mesh as data: which services run, and each sidecar's bootstrap config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAIN_SERVICE = "frontend"  # the service the load calls: its forecast is the dashboard's


@dataclass(frozen=True)
class Instance:
    service: str  # catalog
    name: str  # catalog-2
    role: str  # the sidecar.examples.shop role
    args: tuple[str, ...] = ()


INSTANCES = (
    Instance("catalog", "catalog-1", "catalog"),
    # The incident's instance: between SIGUSR1 and SIGUSR2 (sent on the demo's timeline) 60% of its
    # calls fail UNAVAILABLE and the others take 80 ms longer.
    Instance("catalog", "catalog-2", "catalog", ("--flaky-rate", "0.6", "--slow-ms", "80")),
    Instance("pricing", "pricing-1", "pricing"),
    Instance("frontend", "frontend-1", "frontend"),
)
INCIDENT_INSTANCE = "catalog-2"
INCIDENT_EFFECT = "flaky (60% UNAVAILABLE) and 80 ms slower"
# Secured, the backends' inbound listeners let in only mTLS calls from the frontend's sidecar.
FRONTEND_ID = "spiffe://cluster.local/ns/default/sa/frontend"


def _listener(name: str, direction: str) -> dict[str, str]:
    return {"name": name, "address": "127.0.0.1:0", "direction": direction}


def backend_sidecar(instance: Instance, service_port: int, security: dict[str, Any] | None = None) -> dict[str, Any]:
    """A catalog or pricing sidecar: inbound only, in front of its local service. With `security` (its
    identity) the inbound listener is strict mTLS, open to the frontend's identity only."""
    inbound: dict[str, Any] = _listener("inbound", "INBOUND")
    if security is not None:
        inbound |= {"mtls": "strict", "allowed_principals": [FRONTEND_ID]}
    return {
        "node": {"service": instance.service, "instance": instance.name},
        **({"security": security} if security is not None else {}),
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [inbound],
        "policy": {
            "version": "demo-1",
            "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": f"127.0.0.1:{service_port}"}]}],
        },
    }


def frontend_sidecar(
    service_port: int, catalog: list[str], pricing: list[str], security: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The frontend's sidecar: inbound to the frontend, outbound to catalog and pricing sidecars. With
    `security` its calls to them are mTLS; its inbound listener stays plaintext (the load generator
    calling it is not a workload of the mesh)."""
    mtls = {"mtls": True} if security is not None else {}
    return {
        "node": {"service": "frontend", "instance": "frontend-1"},
        **({"security": security} if security is not None else {}),
        "admin": {"address": "127.0.0.1:0"},
        "listeners": [_listener("inbound", "INBOUND"), _listener("outbound", "OUTBOUND")],
        "policy": {
            "version": "demo-1",
            "route_tables": [
                {"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]},
                {
                    "name": "outbound",
                    "routes": [
                        {
                            "name": "catalog",
                            "match": {"authority": "catalog"},
                            "cluster": "catalog",
                            # GetItem is a read: retry it elsewhere when an endpoint is unavailable.
                            "retry": {
                                "max_attempts": 3,
                                "retry_on": ["UNAVAILABLE"],
                                "idempotent_methods": ["GetItem"],
                                "budget": {"retry_percent": 25, "min_retries_per_second": 5},
                            },
                        },
                        {"name": "pricing", "match": {"authority": "pricing"}, "cluster": "pricing"},
                    ],
                },
            ],
            "clusters": [
                # Concurrency caps the engines move (the forecaster before spikes and shortages, the tuner).
                {
                    "name": "local",
                    "endpoints": [{"address": f"127.0.0.1:{service_port}"}],
                    "limits": {"max_requests": 64},
                },
                {
                    "name": "catalog",
                    "endpoints": [{"address": a} for a in catalog],
                    **mtls,
                    "limits": {"max_requests": 100},
                    # Eject an endpoint after 3 failures in a row; probe it again after 10 s.
                    "outlier_detection": {
                        "consecutive_failures": 3,
                        "base_ejection_time": "10s",
                        "max_ejection_percent": 50,
                        "interval": "1s",
                    },
                },
                {
                    "name": "pricing",
                    "endpoints": [{"address": a} for a in pricing],
                    **mtls,
                    "limits": {"max_requests": 100},
                },
            ],
            # Quotes are deterministic per item: cache them, and cover pricing outages with stale answers.
            "cache": [
                {
                    "name": "pricing-quote",
                    "method": "/apex.mesh.v1.Pricing/Quote",
                    "ttl": "5s",
                    "stale_if_error": "60s",
                    "listeners": ["outbound"],
                },
            ],
        },
    }
