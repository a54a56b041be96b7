"""The security series on /metrics, read by SecurityWatch from the real security objects of a sidecar.

A Workload with certificates from a test CA, a strict mTLS listener's PeerCheck, handshake failures
recorded by reason, access guards refusing scrapes, a JWT key cache fed by real fetches of a JWKS
file: every family with its exact samples, in the Prometheus text and the OpenMetrics formats.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from engines.security.ca import MeshCA
from sidecar.admin.access import AccessGuard
from sidecar.config import bootstrap as bootstrap_file
from sidecar.policy.address import Address
from sidecar.policy.auth_model import JwtProvider, KeySource
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Direction, Listener
from sidecar.policy.security_model import Security
from sidecar.runtime.jwks import fetch_once
from sidecar.runtime.security_watch import SecurityWatch
from sidecar.runtime.sidecar import Sidecar
from sidecar.runtime.stack import State
from sidecar.runtime.workload import Workload
from sidecar.security.peer import MtlsMode, PeerCheck
from sidecar.security.tls import ListenerTls
from sidecar.telemetry import prometheus
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.security_metrics import peer_mode
from tests.support.jwt_keys import ec_key, jwks
from tests.unit.security.pki_helpers import TD, ident

SECURITY_PREFIXES = ("apex_workload_", "apex_mtls_", "apex_tls_", "apex_access_", "apex_jwks_", "apex_oauth2_")


def _issue(workload: Workload, ca: MeshCA, now: float) -> float:
    """The mesh CA answers the workload's CSR, as over the control stream; returns not_after."""
    assert workload.issuer is not None
    answer = ca.sign(workload.issuer.request(), workload.security.identity, now)
    return workload.issuer.issued(answer.chain_pem, answer.bundle_pem).not_after


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(SECURITY_PREFIXES)
    }


def test_every_security_family_with_its_exact_samples(tmp_path: Path) -> None:
    now = time.time()
    ca = MeshCA.create(TD, now)
    workload = Workload(Security(ident("shop")))
    state = State()
    registry = Registry(time.time)
    guards = {"admin": AccessGuard("admin-secret-1"), "metrics": AccessGuard("metrics-secret-2", name="metrics")}
    metrics_tls = ListenerTls(workload.credentials, PeerCheck(MtlsMode.STRICT, TD))
    registry.refreshers.append(SecurityWatch(registry, state, workload, lambda: guards, {"metrics": metrics_tls}))

    # Before the CA answered: the placeholder (generation 0), no expiry shown.
    before = _samples(prometheus.render(registry))
    assert before == {
        ("apex_workload_identity_info", (("identity", "spiffe://cluster.local/ns/default/sa/shop"),)): 1.0,
        ("apex_workload_certificate_generation", ()): 0.0,
        ("apex_workload_certificate_rotations_total", ()): 0.0,
    }

    _issue(workload, ca, now)
    not_after = _issue(workload, ca, now + 60)  # a renewal: generation 2, one rotation
    inbound = Listener("inbound", Address("127.0.0.1", 0), Direction.INBOUND, "inbound", mtls=MtlsMode.STRICT,
                       allowed_principals=("spiffe://cluster.local/ns/default/*",))  # fmt: skip
    tls = workload.listener_tls(inbound)
    assert tls is not None
    for uris in (
        ["spiffe://cluster.local/ns/default/sa/web"],
        ["spiffe://cluster.local/ns/default/sa/web"],
        ["spiffe://cluster.local/ns/batch/sa/job"],
        ["spiffe://evil.example/ns/default/sa/web"],
        [],
    ):
        tls.check.verdict(uris)  # fmt: skip
    tls.handshakes.record(TimeoutError())
    workload.client_tls.handshakes.record(None)  # the server closed without an alert
    workload.client_tls.handshakes.record(None)
    assert guards["metrics"].bearer_problem(None) is not None
    assert guards["metrics"].bearer_problem("Bearer not-it") is not None
    assert guards["metrics"].bearer_problem("Bearer metrics-secret-2") is None
    assert guards["admin"].bearer_problem("Bearer admin-secret-1") is None
    metrics_tls.handshakes.record(None)

    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(jwks(ec_key("ec-1"), ec_key("ec-2")))
    provider = JwtProvider("corp", "https://login.example", KeySource.FILE, str(jwks_file), min_refresh_interval=30)
    state.jwks.update([provider])
    cache = state.jwks["corp"]
    assert asyncio.run(fetch_once(cache))
    jwks_file.write_text("{not json")
    assert not asyncio.run(fetch_once(cache))  # the old keys stay
    later = time.monotonic() + 60
    assert cache.unknown_kid(later) and not cache.unknown_kid(later + 1)  # the second within 30 s: limited

    text = prometheus.render(registry)
    listener = ("listener", "inbound")
    assert _samples(text) == {
        ("apex_workload_identity_info", (("identity", "spiffe://cluster.local/ns/default/sa/shop"),)): 1.0,
        ("apex_workload_certificate_generation", ()): 2.0,
        ("apex_workload_certificate_rotations_total", ()): 1.0,
        ("apex_workload_certificate_expiry_seconds", ()): not_after,
        ("apex_mtls_listener_info", (listener, ("mode", "strict"))): 1.0,
        ("apex_mtls_accepted_total", (listener, ("mode", "mtls"))): 2.0,
        ("apex_mtls_rejected_total", (listener, ("reason", "no_client_certificate"))): 1.0,
        ("apex_mtls_rejected_total", (listener, ("reason", "not_allowed"))): 1.0,
        ("apex_mtls_rejected_total", (listener, ("reason", "wrong_trust_domain"))): 1.0,
        ("apex_tls_handshake_failures_total", (listener, ("reason", "timeout"))): 1.0,
        ("apex_tls_outbound_handshake_failures_total", (("reason", "closed_by_peer"),)): 2.0,
        ("apex_access_refused_total", (("listener", "metrics"), ("reason", "no_token"))): 1.0,
        ("apex_access_refused_total", (("listener", "metrics"), ("reason", "wrong_token"))): 1.0,
        ("apex_access_handshake_failures_total", (("listener", "metrics"), ("reason", "closed_by_peer"))): 1.0,
        ("apex_jwks_fetches_total", (("provider", "corp"),)): 1.0,
        ("apex_jwks_fetch_errors_total", (("provider", "corp"),)): 1.0,
        ("apex_jwks_kid_refreshes_total", (("provider", "corp"),)): 1.0,
        ("apex_jwks_kid_refreshes_limited_total", (("provider", "corp"),)): 1.0,
        ("apex_jwks_keys", (("provider", "corp"),)): 2.0,
    }
    for secret in ("admin-secret-1", "metrics-secret-2", "not-it", "PRIVATE KEY"):
        assert secret not in text
    # OpenMetrics (what Prometheus asks for with exemplars on) parses too, counters named without _total.
    names = {f.name for f in openmetrics_families(prometheus.render(registry, openmetrics=True))}
    assert {"apex_mtls_accepted", "apex_jwks_fetches", "apex_workload_certificate_expiry_seconds"} <= names


def test_a_sidecar_without_security_shows_no_security_family() -> None:
    registry = Registry(time.time)
    registry.refreshers.append(SecurityWatch(registry, State(), None, dict, {}))
    assert _samples(prometheus.render(registry)) == {}
    assert "apex_mtls" not in prometheus.render(registry)


def test_accepted_keys_count_by_peer_mode_whatever_they_name() -> None:
    """PeerCheck.accepted may be keyed by mode or by principal: both aggregate into the two modes."""
    assert [peer_mode(k) for k in ("mtls", "plaintext", "spiffe://cluster.local/ns/a/sa/b", "")] == [
        "mtls", "plaintext", "mtls", "plaintext"]  # fmt: skip


def test_a_metrics_token_that_does_not_resolve_stops_the_sidecar_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APEX_TEST_METRICS_UNSET", raising=False)
    path = tmp_path / "sidecar.yaml"
    path.write_text(
        "node: {service: front}\n"
        "metrics: {address: '0.0.0.0:0', token: {env: APEX_TEST_METRICS_UNSET}}\n"
        "listeners: [{name: out, address: '127.0.0.1:0', direction: OUTBOUND}]\n"
        "policy: {route_tables: [{name: out, routes: [{name: all, cluster: c}]}],"
        " clusters: [{name: c, endpoints: [{address: '127.0.0.1:1'}]}]}\n"
    )
    config, model = bootstrap_file.load(path)  # valid: a reference, resolved when the sidecar is built
    with pytest.raises(ConfigError) as err:
        Sidecar(config, model, str(path))
    assert err.value.field == "metrics.token" and "APEX_TEST_METRICS_UNSET is not set" in str(err.value)
