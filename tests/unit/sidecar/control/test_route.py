"""Where the control stream connects: the mTLS port with the certificate once the CA issued one, else the token."""

from __future__ import annotations

import dataclasses

from engines.security.ca import MeshCA
from sidecar.control.client import MTLS_ATTEMPTS, Route, asks_certificate, choose_route, mtls_target
from sidecar.security.credentials import IssuedSource
from tests.unit.security.pki_helpers import TD, ident, issued

NOW = 1_800_000_000.0
CP = "apex-control-plane.apex-system:7700"


def test_the_advertised_port_is_reached_at_the_configured_host() -> None:
    assert mtls_target(CP, ":7701") == "apex-control-plane.apex-system:7701"
    assert mtls_target("[::1]:7700", ":7701") == "[::1]:7701"
    assert mtls_target(CP, "10.0.0.5:7701") == "10.0.0.5:7701"


def test_the_certificate_replaces_the_join_token_once_issued_and_while_valid() -> None:
    ca = MeshCA.create(TD, NOW, workload_ttl=600)
    material = issued(ca, "echo", NOW)  # generation 1: from the CA
    assert choose_route(CP, ":7701", material, NOW, 0) == Route("apex-control-plane.apex-system:7701", material)
    assert (
        choose_route(CP, ":7701", material, NOW, 0).credential
        == "certificate spiffe://cluster.local/ns/default/sa/echo"
    )
    # No mTLS port known yet, or no certificate from the CA yet (the placeholder is generation 0).
    assert choose_route(CP, "", material, NOW, 0) == Route(CP)
    assert choose_route(CP, ":7701", None, NOW, 0) == Route(CP)
    placeholder = IssuedSource.placeholder(ident("echo"), NOW)
    assert choose_route(CP, ":7701", placeholder, NOW, 0).credential == "join token"
    # Expired after a long outage: back to the join token (a new certificate follows on that stream).
    assert choose_route(CP, ":7701", material, material.not_after, 0) == Route(CP)
    assert choose_route(CP, ":7701", dataclasses.replace(material, not_before=NOW + 5), NOW, 0) == Route(CP)
    # The mTLS port unreachable several times in a row (a restarted control plane on a new port).
    assert choose_route(CP, ":7701", material, NOW, MTLS_ATTEMPTS - 1).material is material
    assert choose_route(CP, ":7701", material, NOW, MTLS_ATTEMPTS) == Route(CP)


def test_a_token_stream_asks_for_a_certificate_once_the_mtls_port_is_known() -> None:
    ca = MeshCA.create(TD, NOW, workload_ttl=600)
    on_mtls = Route("cp:7701", issued(ca, "echo", NOW))
    assert not asks_certificate(Route(CP), "", due=False)  # an insecure control plane: only when due
    assert asks_certificate(Route(CP), "", due=True)
    assert asks_certificate(Route(CP), ":7701", due=False)  # fell back: a fresh certificate names the port
    assert not asks_certificate(on_mtls, ":7701", due=False)
    assert asks_certificate(on_mtls, ":7701", due=True)  # renewal over the mTLS stream
