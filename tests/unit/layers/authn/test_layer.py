"""The authn layer around a recording service: statuses, counters, forwarded claims, stripped metadata."""

from __future__ import annotations

import asyncio

from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers.authn.keys import KeyCaches
from sidecar.layers.authn.layer import Authn, claim_text, rule_for, token_of
from sidecar.policy.auth_model import JwtProvider, JwtRule, KeySource, RequestAuthentication
from sidecar.telemetry.registry import Series
from tests.support.jwt_keys import AUDIENCE, ISSUER, NOW, claims, ec_key, jwks

KEY = ec_key("k1")
PROVIDER = JwtProvider(
    "corp", ISSUER, KeySource.INLINE, jwks(KEY), audiences=(AUDIENCE,),
    forward_claims=(("sub", "x-user"), ("tenant", "x-tenant")),
)  # fmt: skip


def run(
    metadata: Metadata, *, required: bool = True, provider: JwtProvider = PROVIDER
) -> tuple[Status, list[CallDescriptor], Series]:
    config = RequestAuthentication((provider,), (JwtRule("r", ("corp",), required=required),))
    caches = KeyCaches()
    caches.update(config.providers)
    seen: list[CallDescriptor] = []

    async def upstream(request: Request) -> Response:
        seen.append(request.call)
        return BufferedResponse(Status(Code.OK))

    series = Series()
    service = Authn(config.rules[0], config, caches, series, clock=lambda: NOW, monotonic=lambda: 0.0)(upstream)

    async def call() -> Status:
        response = await service(Request(CallDescriptor("/shop.Orders/Get", metadata=metadata), no_messages()))
        return await response.status()

    return asyncio.run(call()), seen, series


def test_a_valid_token_reaches_upstream_with_claims_as_metadata_and_without_the_token() -> None:
    token = KEY.sign(claims(tenant="acme"))
    status, seen, series = run((("authorization", f"Bearer {token}"), ("x-user", "mallory"), ("x-other", "1")))
    assert status.ok and series.counters == {"authn_accepted": 1}
    call = seen[0]
    assert call.metadata == (("x-other", "1"), ("x-user", "alice"), ("x-tenant", "acme"))  # the forged x-user is gone
    assert call.request_principal == f"{ISSUER}/alice" and call.claims is not None and call.claims["tenant"] == "acme"


def test_forward_token_keeps_it() -> None:
    token = KEY.sign(claims())
    keep = JwtProvider("corp", ISSUER, KeySource.INLINE, jwks(KEY), forward_token=True)
    _, seen, _ = run((("authorization", f"Bearer {token}"),), provider=keep)
    assert seen[0].metadata == (("authorization", f"Bearer {token}"),)


def test_missing_token_is_unauthenticated_when_required_else_passes_without_principal() -> None:
    status, seen, series = run((("x-user", "mallory"),))
    assert status == Status(Code.UNAUTHENTICATED, "apex: JWT missing: send `authorization: Bearer <token>`")
    assert not seen and series.counters == {"authn_rejected_missing": 1}
    status, seen, series = run((("x-user", "mallory"), ("authorization", "Basic dXNlcjpwdw==")), required=False)
    assert status.ok and series.counters == {"authn_no_token": 1}
    assert seen[0].metadata == (("authorization", "Basic dXNlcjpwdw=="),) and seen[0].request_principal == ""


def test_a_bad_token_is_unauthenticated_with_its_reason_even_when_not_required() -> None:
    expired = KEY.sign(claims(exp=int(NOW) - 3600))
    status, seen, series = run((("authorization", f"Bearer {expired}"),), required=False)
    assert status == Status(Code.UNAUTHENTICATED, "apex: JWT expired")
    assert not seen and series.counters == {"authn_rejected_expired": 1}


def test_token_extraction_and_claim_rendering() -> None:
    call = CallDescriptor("/a.B/C", metadata=(("authorization", "bearer  tok "), ("x-jwt", "other")))
    assert token_of(call, ("authorization",)) == ("tok", "authorization")
    assert token_of(call, ("x-jwt",)) == ("other", "x-jwt")
    assert token_of(CallDescriptor("/a.B/C"), ("authorization",)) is None
    assert claim_text(["a", "b", 3]) == "a,b,3"
    assert claim_text({"b": 1, "a": [True]}) == '{"a":[true],"b":1}'
    assert claim_text("zoë") == "zo%C3%AB"
    assert claim_text(True) == "true"
    assert claim_text("x" * 5000) is None


def test_rules_select_inbound_listeners_by_default_then_by_name_and_route() -> None:
    config = RequestAuthentication(
        (PROVIDER,),
        (JwtRule("named", ("corp",), listeners=("outbound",), routes=("echo",)), JwtRule("inbound", ("corp",))),
    )
    assert rule_for(config, "inbound", True, "any") == config.rules[1]
    assert rule_for(config, "outbound", False, "echo") == config.rules[0]
    assert rule_for(config, "outbound", False, "other") is None
