"""The rejection matrix for JWT authentication and authorization policies, through a real sidecar.

One sidecar process (grpc transport, strict mTLS from certificate files of a test CA, JWKS from a
file) in front of the Echo server; real gRPC clients with their own workload certificates. Each case
checks the exact status, message and the exact counters it moved on /metrics.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from apex.mesh.security.spiffe import mesh_server_name
from apex.mesh.v1 import admin_pb2, admin_pb2_grpc, config_pb2, echo_pb2
from prometheus_client.parser import text_string_to_metric_families

from engines.security.ca import MeshCA
from sidecar.cli import main as apex
from sidecar.config.yaml_proto import fill
from sidecar.examples.echo import BackgroundEcho
from sidecar.security.material import TlsMaterial
from sidecar.support.sidecar_proc import SidecarProcess
from sidecar.telemetry.security_metrics import JWKS_COUNTERS
from tests.support.jwt_keys import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    claims,
    ec_key,
    ed_key,
    hs256_with_public_key,
    jwks,
    rsa_key,
    unsigned,
)
from tests.support.observed import get_metrics
from tests.unit.security.pki_helpers import TD, issued

pytestmark = pytest.mark.integration

UNARY = "/apex.mesh.v1.Echo/Unary"
CLIENT_STREAM = "/apex.mesh.v1.Echo/ClientStream"
SERVER_STREAM = "/apex.mesh.v1.Echo/ServerStream"
RSA, EC, ED = rsa_key("rsa-1"), ec_key("ec-1"), ed_key("ed-1")
ROTATED = ec_key("ec-2")


def _config(upstream: str, files: dict[str, str], jwks_file: str) -> dict[str, Any]:
    return {
        "node": {"service": "echo"},
        "admin": {"address": "127.0.0.1:0"},
        "metrics": {"address": "127.0.0.1:0"},
        "logging": {"level": "DEBUG"},  # so the leak check below reads every log line there is
        "security": {"certificate_files": {**files, "poll_interval": "0.1s"}},
        "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND", "mtls": "strict",
                       "allowed_principals": ["spiffe://cluster.local/ns/default/*", "spiffe://cluster.local/ns/batch/*"]},
                      # the h2 transport, same layers: plaintext, and strict mTLS (its handshakes are counted)
                      {"name": "inbound-h2", "address": "127.0.0.1:0", "direction": "INBOUND", "transport": "h2"},
                      {"name": "inbound-h2-mtls", "address": "127.0.0.1:0", "direction": "INBOUND", "transport": "h2",
                       "mtls": "strict", "route_table": "inbound-h2"}],
        "policy": {
            "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]},
                             {"name": "inbound-h2", "routes": [{"name": "local-h2", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": upstream}]}],
            "cache": [{"method": UNARY, "ttl": "60s"}],  # keyed per caller identity (not shareable)
            "jwt": {
                "providers": [{"name": "corp", "issuer": ISSUER, "audiences": [AUDIENCE], "jwks_file": jwks_file,
                               "clock_skew": "30s", "min_refresh_interval": "100ms",
                               "forward_claims": {"sub": "x-echo-user"}}],
                "rules": [{"name": "api", "providers": ["corp"], "required": True}],
            },
            "authorization": [
                {"name": "no-evil", "action": "DENY",
                 "rules": [{"source": {"principals": ["spiffe://cluster.local/ns/default/sa/evil"]}}]},
                {"name": "no-client-streams", "action": "DENY", "rules": [{"to": {"methods": [CLIENT_STREAM]}}]},
                {"name": "no-guests", "action": "DENY",
                 "rules": [{"when": [{"key": "request.auth.claims[role]", "values": ["guest"]}]}]},
                {"name": "default-namespace", "listeners": ["inbound"],
                 "rules": [{"source": {"namespaces": ["default"]}}]},
                {"name": "lockdown-rehearsal", "action": "DENY", "dry_run": True,
                 "rules": [{"to": {"methods": [SERVER_STREAM]}}]},
            ],
        },
    }  # fmt: skip


class Mesh:
    """The sidecar, its CA and the callers' certificates."""

    def __init__(self, proc: SidecarProcess, ca: MeshCA, jwks_file: Path) -> None:
        self.proc, self.ca, self.jwks_file = proc, ca, jwks_file
        self.tokens: list[str] = []  # every token sent, for the leak check
        now = time.time()
        self.callers = {name: issued(ca, name, now, ns) for name, ns in
                        (("frontend", "default"), ("evil", "default"), ("report", "batch"),
                         ("intruder", "other"))}  # fmt: skip
        self.files: dict[str, Path] = {}  # the sidecar's certificate files (rotated by a test)

    def security(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The security series on /metrics (docs/observability.md), by (name, labels)."""
        prefixes = ("apex_workload_", "apex_mtls_", "apex_tls_", "apex_access_", "apex_jwks_")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(get_metrics(self.proc["metrics"]))
            for s in family.samples
            if s.name.startswith(prefixes)
        }

    def wait_security(self, key: tuple[str, tuple[tuple[str, str], ...]], value: float) -> None:
        deadline = time.monotonic() + 10
        while self.security().get(key) != value and time.monotonic() < deadline:
            time.sleep(0.05)

    def decisions(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(get_metrics(self.proc["metrics"])):
            for s in family.samples:
                if s.name == "apex_route_policy_decisions_total" and s.labels.get("route") == "local":
                    out[s.labels["decision"]] = s.value
        return out

    def call(
        self, token: str | None, caller: str = "frontend", method: str = UNARY
    ) -> tuple[grpc.StatusCode, str, dict[str, str]]:
        material: TlsMaterial = self.callers[caller]
        creds = grpc.ssl_channel_credentials(material.bundle_pem, material.key_pem, material.chain_pem)
        options = (("grpc.ssl_target_name_override", mesh_server_name(TD)),)
        metadata = [] if token is None else [("authorization", f"Bearer {token}")]
        if token is not None:
            self.tokens.append(token)
        request = echo_pb2.EchoRequest(payload=b"hi", echo_metadata=True).SerializeToString()
        with grpc.secure_channel(self.proc["inbound"], creds, options=options) as channel:
            try:
                if method == CLIENT_STREAM:
                    _, rpc = channel.stream_unary(method).with_call(iter([request]), timeout=10, metadata=metadata)
                elif method == SERVER_STREAM:
                    stream = channel.unary_stream(method)(request, timeout=10, metadata=metadata)
                    list(stream)
                    rpc = stream
                else:
                    _, rpc = channel.unary_unary(method).with_call(request, timeout=10, metadata=metadata)
            except grpc.RpcError as exc:
                return exc.code(), exc.details() or "", {}
            return grpc.StatusCode.OK, "", {k: v for k, v in rpc.initial_metadata() if isinstance(v, str)}

    def check(self, token: str | None, code: grpc.StatusCode, details: str, counters: dict[str, int],
              caller: str = "frontend", method: str = UNARY) -> dict[str, str]:  # fmt: skip
        before = self.decisions()
        got_code, got_details, headers = self.call(token, caller, method)
        after = self.decisions()
        moved = {k: int(v - before.get(k, 0)) for k, v in after.items() if v != before.get(k, 0)}
        assert (got_code, got_details) == (code, details)
        assert moved == counters
        return headers


@pytest.fixture(scope="module")
def mesh(echo: BackgroundEcho, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    work = tmp_path_factory.mktemp("jwt-authz")
    now = time.time()
    ca = MeshCA.create(TD, now)
    server = issued(ca, "echo", now)
    files = {"certificate": work / "tls.crt", "private_key": work / "tls.key", "trust_bundle": work / "ca.crt"}
    files["certificate"].write_bytes(server.chain_pem)
    files["private_key"].write_bytes(server.key_pem)
    files["trust_bundle"].write_bytes(server.bundle_pem)
    jwks_file = work / "jwks.json"
    jwks_file.write_text(jwks(RSA, EC, ED))
    config = _config(echo.address, {k: str(v) for k, v in files.items()}, str(jwks_file))
    with SidecarProcess(config) as proc:
        mesh = Mesh(proc, ca, jwks_file)
        mesh.files = files
        yield mesh


OK, UNAUTH, DENIED = grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED
PASSED = {"authn_accepted": 1, "authz_allowed": 1}


def test_valid_tokens_pass_with_their_claims_forwarded(mesh: Mesh) -> None:
    for key in (RSA, EC, ED):
        headers = mesh.check(key.sign(claims(time.time())), OK, "", PASSED)
        assert headers["x-echo-user"] == "alice"  # the sub claim, forwarded as metadata


def test_jwt_rejection_matrix(mesh: Mesh) -> None:
    now = time.time()
    wrong_key = SigningKey("rsa-1", "RS256", rsa_key("attacker").private)
    cases: list[tuple[str | None, str, str]] = [
        (unsigned(claims(now)), "apex: JWT with alg none (unsigned) refused", "alg_none"),
        (wrong_key.sign(claims(now)), "apex: JWT signature does not verify", "bad_signature"),
        (RSA.sign(claims(now, exp=int(now) - 120)), "apex: JWT expired", "expired"),
        (RSA.sign(claims(now, nbf=int(now) + 120)), "apex: JWT is not valid yet (nbf)", "not_yet_valid"),
        (RSA.sign(claims(now, aud="billing")), "apex: JWT audience is not accepted here", "wrong_audience"),
        (RSA.sign(claims(now, iss="https://evil.test")), "apex: JWT issuer is not accepted here", "wrong_issuer"),
        (hs256_with_public_key(RSA, claims(now)), "apex: JWT algorithm 'HS256' is not allowed", "alg_not_allowed"),
        (None, "apex: JWT missing: send `authorization: Bearer <token>`", "missing"),
    ]
    for token, details, reason in cases:
        mesh.check(token, UNAUTH, details, {f"authn_rejected_{reason}": 1})


def test_jwks_rotation_old_key_rejected_new_accepted(mesh: Mesh) -> None:
    now = time.time()
    new, old = ROTATED.sign(claims(now)), EC.sign(claims(now))
    mesh.check(old, OK, "", PASSED)
    mesh.jwks_file.write_text(jwks(RSA, ED, ROTATED))  # the issuer rotates ec-1 out, ec-2 in
    time.sleep(0.15)  # past min_refresh_interval (100 ms) since the last fetch
    # The first call naming the new kid is refused (the data path never waits for a fetch) and starts a refresh.
    mesh.check(new, UNAUTH, "apex: JWT key id 'ec-2' is unknown", {"authn_rejected_unknown_kid": 1})
    deadline = time.monotonic() + 10
    while "'ec-2'" not in mesh.proc.log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the sidecar logs the key ids of each fetch
    mesh.check(new, OK, "", PASSED)
    mesh.check(old, UNAUTH, "apex: JWT key id 'ec-1' is unknown", {"authn_rejected_unknown_kid": 1})


def _moved(before: dict[Any, float], after: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_security_series_on_metrics_after_known_rejections(mesh: Mesh, capsys: pytest.CaptureFixture[str]) -> None:
    """Peer checks, handshake failures, JWKS refreshes and a certificate rotation, each with the exact
    series it moved on /metrics (docs/observability.md, "Security series")."""
    now = time.time()
    inbound, h2 = ("listener", "inbound"), ("listener", "inbound-h2-mtls")
    corp = (("provider", "corp"),)
    # A refresh woken by an earlier test may still be running: start once every fetch has landed
    # (the first one plus one per woken refresh; the periodic refresh is 5 minutes away).
    deadline = time.monotonic() + 10
    while True:
        before = mesh.security()
        fetched = before[("apex_jwks_fetches_total", corp)] + before[("apex_jwks_fetch_errors_total", corp)]
        if fetched == 1 + before[("apex_jwks_kid_refreshes_total", corp)] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert before[("apex_mtls_listener_info", (inbound, ("mode", "strict")))] == 1
    assert before[("apex_mtls_listener_info", (h2, ("mode", "strict")))] == 1
    assert before[("apex_workload_certificate_generation", ())] == 1  # read from the files at start
    assert before[("apex_workload_certificate_rotations_total", ())] == 0
    server = TlsMaterial.build(*(mesh.files[k].read_bytes() for k in ("certificate", "private_key", "trust_bundle")))
    assert before[("apex_workload_certificate_expiry_seconds", ())] == server.not_after
    # 1. An accepted mTLS caller, and one outside the listener's allowed principals (refused after the handshake).
    mesh.check(RSA.sign(claims(now)), OK, "", PASSED)
    intruder = "spiffe://cluster.local/ns/other/sa/intruder"
    mesh.check(RSA.sign(claims(now)), DENIED, f"apex: peer {intruder} is not allowed on this listener", {},
               caller="intruder")  # fmt: skip
    # 2. A TLS client without a certificate on the h2 mTLS listener: the handshake fails, counted by reason.
    context = ssl.create_default_context(cadata=server.bundle_pem.decode())
    context.check_hostname = False
    host, _, port = mesh.proc["inbound-h2-mtls"].rpartition(":")
    with (
        contextlib.suppress(OSError),
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=mesh_server_name(TD)) as tls,
    ):
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        tls.recv(64)  # TLS 1.3: the server judges the (missing) client certificate after our side finished
    failed = ("apex_tls_handshake_failures_total", (h2, ("reason", "no_client_certificate")))
    mesh.wait_security(failed, before.get(failed, 0) + 1)
    # 3. A token naming an unknown key id wakes one JWKS refresh (past min_refresh_interval since the last).
    time.sleep(0.15)
    mesh.check(ec_key("ec-9").sign(claims(now)), UNAUTH, "apex: JWT key id 'ec-9' is unknown",
               {"authn_rejected_unknown_kid": 1})  # fmt: skip
    mesh.wait_security(("apex_jwks_fetches_total", corp), before[("apex_jwks_fetches_total", corp)] + 1)
    assert _moved(before, mesh.security()) == {
        ("apex_mtls_accepted_total", (inbound, ("mode", "mtls"))): 2,  # the OK call and the JWT-refused one
        ("apex_mtls_rejected_total", (inbound, ("reason", "not_allowed"))): 1,
        failed: 1,
        ("apex_jwks_fetches_total", corp): 1,
        ("apex_jwks_kid_refreshes_total", corp): 1,
    }
    # The same JWKS counters in `apex admin security --json` (SecurityAdmin.GetSecurity), beside the peer counts.
    series = mesh.security()
    capsys.readouterr()
    assert apex(["admin", "--admin", mesh.proc["admin"], "--json", "security"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["jwks"] == {"corp": {"keys": series[("apex_jwks_keys", corp)], "counters": {
        name: series[(family, corp)] for name, family, _ in JWKS_COUNTERS if series[(family, corp)]}}}  # fmt: skip
    assert shown["listeners"]["inbound"]["rejected"] == {
        "not_allowed": series[("apex_mtls_rejected_total", (inbound, ("reason", "not_allowed")))]
    }
    # 4. cert-manager rotates the certificate files: a new generation, its expiry, one rotation.
    renewed = issued(mesh.ca, "echo", time.time() + 10)
    mesh.files["private_key"].write_bytes(renewed.key_pem)
    mesh.files["certificate"].write_bytes(renewed.chain_pem)
    mesh.wait_security(("apex_workload_certificate_generation", ()), 2)
    after = mesh.security()
    assert after[("apex_workload_certificate_rotations_total", ())] == 1
    assert after[("apex_workload_certificate_expiry_seconds", ())] == renewed.not_after != server.not_after
    mesh.check(RSA.sign(claims(now)), OK, "", PASSED)  # callers reach the sidecar under its new certificate


def test_authorization_matrix(mesh: Mesh) -> None:
    now = time.time()
    token = RSA.sign(claims(now))
    mesh.check(
        token,
        DENIED,
        "apex: permission denied by policy 'no-evil'",
        {"authn_accepted": 1, "authz_denied": 1},
        caller="evil",
    )  # by principal
    mesh.check(
        token,
        DENIED,
        "apex: permission denied by policy 'no-client-streams'",
        {"authn_accepted": 1, "authz_denied": 1},
        method=CLIENT_STREAM,
    )  # by method
    mesh.check(
        RSA.sign(claims(now, role="guest")),
        DENIED,
        "apex: permission denied by policy 'no-guests'",
        {"authn_accepted": 1, "authz_denied": 1},
    )  # by claim
    mesh.check(
        token,
        DENIED,
        f"apex: permission denied: no rule of 'default-namespace' allows {UNARY}",
        {"authn_accepted": 1, "authz_denied_default": 1},
        caller="report",
    )  # default deny
    mesh.check(token, OK, "", {**PASSED, "authz_shadow_would_deny": 1}, method=SERVER_STREAM)  # dry-run: counted only


def test_the_admin_config_shows_the_policies_and_the_stack(mesh: Mesh) -> None:
    with grpc.insecure_channel(mesh.proc["admin"]) as channel:
        dump = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=5)
    policy = dump.bootstrap.policy
    assert [p.name for p in policy.authorization][:2] == ["no-evil", "no-client-streams"]
    assert policy.jwt.providers[0].forward_claims["sub"] == "x-echo-user"
    stack = next(s for s in dump.route_stacks if s.route == "local")
    assert list(stack.layers) == ["metrics", "deadline", "authn", "authz", "cache", "cluster:local"]


def test_the_cache_keeps_principals_apart_and_never_answers_a_denied_caller(mesh: Mesh) -> None:
    now = time.time()
    alice, bob = RSA.sign(claims(now)), RSA.sign(claims(now, sub="bob"))
    request = echo_pb2.EchoRequest(payload=b"cache me", echo_metadata=True).SerializeToString()

    def cache_status(token: str, caller: str = "frontend") -> str:
        material = mesh.callers[caller]
        creds = grpc.ssl_channel_credentials(material.bundle_pem, material.key_pem, material.chain_pem)
        options = (("grpc.ssl_target_name_override", mesh_server_name(TD)),)
        mesh.tokens.append(token)
        with grpc.secure_channel(mesh.proc["inbound"], creds, options=options) as channel:
            try:
                _, rpc = channel.unary_unary(UNARY).with_call(
                    request, timeout=10, metadata=[("authorization", f"Bearer {token}")]
                )
            except grpc.RpcError as exc:
                return str(exc.code())
            return dict(rpc.trailing_metadata()).get("x-apex-cache", "miss")

    assert [cache_status(alice), cache_status(alice)] == ["miss", "hit"]
    assert [cache_status(bob), cache_status(bob)] == ["miss", "hit"]  # bob never gets alice's entry
    assert cache_status(alice, caller="evil") == str(DENIED)
    assert cache_status(alice, caller="report") == str(DENIED)
    # That authz runs before the cache shows on the h2 listener below: a guest token of the same
    # subject (same identity, same key) is denied although alice's answer is in the cache.


def test_the_h2_transport_runs_the_same_layers(mesh: Mesh) -> None:
    """The layers are transport-independent: JWT and a claim rule on the h2 listener (no principal there)."""
    now = time.time()
    request = echo_pb2.EchoRequest(payload=b"hi").SerializeToString()
    cases = [
        (RSA.sign(claims(now)), OK, ""),
        (RSA.sign(claims(now, exp=int(now) - 120)), UNAUTH, "apex: JWT expired"),
        (RSA.sign(claims(now, role="guest")), DENIED, "apex: permission denied by policy 'no-guests'"),
    ]  # the first answer is cached (same request, same subject as the guest): authz must refuse before the cache
    with grpc.insecure_channel(mesh.proc["inbound-h2"]) as channel:
        for token, code, details in cases:
            mesh.tokens.append(token)
            try:
                channel.unary_unary(UNARY)(request, timeout=10, metadata=[("authorization", f"Bearer {token}")])
                got = (OK, "")
            except grpc.RpcError as exc:
                got = (exc.code(), exc.details() or "")
            assert got == (code, details)


def test_no_token_reaches_the_sidecar_log(mesh: Mesh) -> None:
    log = mesh.proc.log()
    assert mesh.tokens and "JWKS of provider corp" in log  # the log is there, at DEBUG
    for token in mesh.tokens:
        signature = token.rsplit(".", 1)[1]
        assert token not in log and (not signature or signature not in log)


def test_policies_pushed_by_the_control_plane_are_enforced(
    echo: BackgroundEcho, redis_url: str, tmp_path: Path
) -> None:
    """JWT rules and authorization policies travel in the policy like routes: set, pushed, ACKed, enforced."""
    from tests.integration.test_control_plane import applied, controlled
    from tests.support.control_plane_proc import ControlPlaneProcess, wait_for

    with ControlPlaneProcess(redis_url) as cp, SidecarProcess(controlled(echo, cp, tmp_path / "lg.binpb")) as sc:
        data = copy.deepcopy(controlled(echo, cp, tmp_path / "x")["policy"])
        data["jwt"] = {
            "providers": [{"name": "corp", "issuer": ISSUER, "jwks": jwks(EC)}],
            "rules": [{"name": "out", "providers": ["corp"], "listeners": ["outbound"], "required": True}],
        }
        evil = {"when": [{"key": "request.headers[x-evil]", "values": ["1"]}]}
        data["authorization"] = [{"name": "no-evil-header", "action": "DENY", "rules": [evil]}]
        cp.set_policy("echo", fill(config_pb2.Policy(), data, "policy"), expected=0)
        wait_for(lambda: applied(cp, "echo", 1, 1), what="ACK of version 1")
        request = echo_pb2.EchoRequest(payload=b"hi").SerializeToString()
        token = EC.sign(claims(time.time(), aud=None))

        def call(listener: str, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
            with grpc.insecure_channel(sc[listener]) as channel:
                try:
                    channel.unary_unary(UNARY)(request, timeout=10, metadata=metadata)
                except grpc.RpcError as exc:
                    return exc.code()
                return OK

        assert call("inbound", []) is OK
        assert call("inbound", [("x-evil", "1")]) is DENIED
        assert call("outbound", []) is UNAUTH
        assert call("outbound", [("authorization", f"Bearer {token}")]) is OK
