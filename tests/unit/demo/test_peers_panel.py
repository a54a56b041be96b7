"""Who called whom: PeerCheck counts accepted calls per principal (bounded), the admin API carries the
security status unchanged, and the demo's peers panel shows each sidecar's identity, certificate and callers."""

from __future__ import annotations

from sidecar.admin.security_admin import from_proto, to_proto
from sidecar.demo import peers
from sidecar.security.peer import MAX_PRINCIPALS, OTHER, MtlsMode, PeerCheck
from sidecar.security.status import (
    CertificateStatus,
    JwksStatus,
    ListenerStatus,
    OAuth2Status,
    SecurityStatus,
    as_dict,
    lifetime,
)

TD = "cluster.local"
FRONTEND = "spiffe://cluster.local/ns/default/sa/frontend"


def test_accepted_calls_are_counted_per_principal_and_bounded() -> None:
    check = PeerCheck(MtlsMode.PERMISSIVE, TD, ("spiffe://cluster.local/ns/default/sa/*",))
    for _ in range(3):
        check.verdict([FRONTEND])
    check.verdict([])  # plaintext: accepted, no principal
    check.verdict(["spiffe://cluster.local/ns/other/sa/x"])  # not allowed: refused, not a caller
    check.verdict(["spiffe://evil.example/ns/default/sa/frontend"])  # wrong trust domain
    assert check.principals == {FRONTEND: 3}
    assert check.accepted == {"mtls": 3, "plaintext": 1}
    assert check.rejected == {"not_allowed": 1, "wrong_trust_domain": 1}
    # A caller cannot grow the table without limit: after MAX_PRINCIPALS names, the rest share OTHER.
    for i in range(MAX_PRINCIPALS + 10):
        check.verdict([f"spiffe://cluster.local/ns/default/sa/s{i}"])
    check.verdict([FRONTEND])  # a principal already counted keeps its own line
    assert len(check.principals) == MAX_PRINCIPALS + 1 and check.principals[OTHER] == 11
    assert check.principals[FRONTEND] == 4 and check.principals["spiffe://cluster.local/ns/default/sa/s0"] == 1
    assert sum(check.principals.values()) == check.accepted["mtls"]


def _status(calls: int, rejected: dict[str, int] | None = None, generation: int = 1) -> SecurityStatus:
    cert = CertificateStatus("spiffe://cluster.local/ns/default/sa/catalog", "3A9F0C11D2", 1000.0, 1000.0 + 86400,
                             1000.0 + 43200, generation)  # fmt: skip
    inbound = ListenerStatus("inbound", "strict", {"mtls": calls}, {FRONTEND: calls}, rejected or {}, {})
    return SecurityStatus(cert.identity, cert, (inbound,), {})


def test_the_admin_reply_carries_the_status_unchanged() -> None:
    status = _status(12, {"not_allowed": 2})
    frontend = SecurityStatus(FRONTEND, None, (ListenerStatus("inbound", "disable"),), {"unknown_ca": 1})
    tokens = SecurityStatus(  # no workload identity: JWT key caches and OAuth2 token sources only
        "", None, (), {}, (JwksStatus("corp", 2, {"fetches": 3, "kid_refreshes": 1}),),
        (OAuth2Status("outbound", "partner", {"fetched": 1}, 5000.5), OAuth2Status("outbound", "down", {"failed": 4})),
    )  # fmt: skip
    for s in (status, frontend, tokens):
        assert from_proto(to_proto(s)) == s
    assert as_dict(tokens)["jwks"] == {"corp": {"keys": 2, "counters": {"fetches": 3, "kid_refreshes": 1}}}
    assert as_dict(tokens)["oauth2"] == [
        {"listener": "outbound", "route": "partner", "counters": {"fetched": 1}, "token_expires_at": 5000.5},
        {"listener": "outbound", "route": "down", "counters": {"failed": 4}, "token_expires_at": None},
    ]
    data = as_dict(status)
    assert data["listeners"] == {
        "inbound": {"mode": "strict", "accepted": {"mtls": 12}, "principals": {FRONTEND: 12},
                    "rejected": {"not_allowed": 2}, "handshake_failures": {}},
    }  # fmt: skip
    assert data["certificate"]["serial"] == "3A9F0C11D2" and "key" not in str(data)  # type: ignore[index]


def test_the_peers_panel_shows_identities_certificates_and_callers() -> None:
    now = 1000.0 + 3600
    frontend = SecurityStatus(
        FRONTEND,
        CertificateStatus(FRONTEND, "77AB01", 1000.0, 1000.0 + 86400, 1000.0 + 43200, 1),
        (ListenerStatus("inbound", "disable"), ListenerStatus("outbound", "disable")),
        {},
    )
    lines = peers.peers_panel(
        [("frontend-1", frontend), ("catalog-1", _status(40)), ("catalog-2", _status(5, {"not_allowed": 2})),
         ("pricing-1", _status(0, generation=0)), ("gone-1", None)],
        now,
    )  # fmt: skip
    assert lines[0].endswith("5 sidecars, 45 mTLS calls accepted, 2 refused, 0 failed handshakes")
    text = "\n".join(lines)
    assert f"frontend-1  {FRONTEND}  cert 77ab01… expires in 23h00m; plaintext: inbound, outbound" in text
    assert f"    inbound (strict): {FRONTEND} 40 calls; refused: none" in text
    assert f"    inbound (strict): {FRONTEND} 5 calls; refused: not_allowed 2" in text
    assert "pricing-1   spiffe://cluster.local/ns/default/sa/catalog  no certificate from the CA yet" in text
    assert "gone-1" in text and "admin unreachable" in text
    assert "failed handshakes: none" not in text  # shown only when some failed (grpc listeners count none)
    assert peers.totals([("a", _status(3, {"not_allowed": 1}))]) == (3, 1, 0)
    assert [lifetime(x) for x in (86399, 250, 12, -5)] == ["23h59m", "4m10s", "12s", "EXPIRED 5s ago"]
