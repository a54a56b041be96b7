"""JWT verification as a pure decision: each rejection with its reason, at a fixed `now`."""

from __future__ import annotations

import pytest

from sidecar.layers.authn.keys import KeyCache
from sidecar.layers.authn.verify import Reason, Verdict, decide
from sidecar.policy.auth_model import JwtProvider, KeySource
from tests.support.jwt_keys import (
    AUDIENCE,
    ISSUER,
    NOW,
    SigningKey,
    claims,
    ec_key,
    ed_key,
    hs256_with_public_key,
    jwks,
    rsa_key,
    unsigned,
)

RSA = rsa_key("rsa-1")
EC = ec_key("ec-1")
ED = ed_key("ed-1")


def provider(*keys: SigningKey, **kw: object) -> JwtProvider:
    fields: dict[str, object] = {"audiences": (AUDIENCE,), "clock_skew": 30.0}
    fields.update(kw)
    return JwtProvider("corp", ISSUER, KeySource.INLINE, jwks(*keys), **fields)  # type: ignore[arg-type]


def check(token: str, p: JwtProvider | None = None, now: float = NOW) -> Verdict:
    p = p or provider(RSA, EC, ED)
    return decide(token, [p], {p.name: KeyCache(p)}, now)


@pytest.mark.parametrize("key", [RSA, EC, ED], ids=lambda k: k.algorithm)
def test_each_algorithm_verifies_and_names_the_request_principal(key: SigningKey) -> None:
    verdict = check(key.sign(claims(tenant="acme")))
    assert verdict.ok and verdict.request_principal == f"{ISSUER}/alice"
    assert verdict.claims is not None and verdict.claims["tenant"] == "acme"


def test_alg_none_is_refused_first() -> None:
    verdict = check(unsigned(claims()))
    assert verdict.reason is Reason.ALG_NONE and verdict.message == "apex: JWT with alg none (unsigned) refused"


def test_hs256_signed_with_the_rsa_public_key_is_refused() -> None:
    verdict = check(hs256_with_public_key(RSA, claims()))
    assert verdict.reason is Reason.ALG_NOT_ALLOWED and "'HS256' is not allowed" in verdict.message


def test_an_algorithm_the_provider_does_not_allow_is_refused() -> None:
    verdict = check(EC.sign(claims()), provider(RSA, EC, algorithms=("RS256",)))
    assert verdict.reason is Reason.ALG_NOT_ALLOWED


def test_a_token_signed_by_another_key_under_a_known_kid_fails_the_signature() -> None:
    forged = SigningKey("rsa-1", "RS256", rsa_key("attacker").private)
    assert check(forged.sign(claims())).reason is Reason.BAD_SIGNATURE


def test_a_kid_of_another_algorithm_is_not_a_key_for_this_token() -> None:
    token = SigningKey("rsa-1", "ES256", ec_key("x").private).sign(claims())  # ES256 header naming the RSA key
    assert check(token).reason is Reason.BAD_SIGNATURE


def test_an_unknown_kid_is_refused_and_asks_for_a_refresh_only_of_fetched_keys() -> None:
    verdict = check(ec_key("ec-new").sign(claims()))
    assert verdict.reason is Reason.UNKNOWN_KID and not verdict.refreshing  # inline keys: nothing to fetch


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (claims(exp=int(NOW) - 31), Reason.EXPIRED),
        (claims(exp=None), Reason.NO_EXPIRY),
        (claims(exp="soon"), Reason.NO_EXPIRY),
        (claims(nbf=int(NOW) + 31), Reason.NOT_YET_VALID),
        (claims(aud="billing"), Reason.WRONG_AUDIENCE),
        (claims(aud=["billing", "shipping"]), Reason.WRONG_AUDIENCE),
        (claims(aud=None), Reason.WRONG_AUDIENCE),
        (claims(iss="https://evil.test"), Reason.UNKNOWN_ISSUER),
    ],
    ids=["expired", "no-exp", "bad-exp", "nbf", "aud", "aud-list", "no-aud", "iss"],
)
def test_claims_are_checked_at_now_with_the_clock_skew(payload: dict[str, object], reason: Reason) -> None:
    assert check(RSA.sign(payload)).reason is reason


def test_the_clock_skew_tolerates_small_differences() -> None:
    assert check(RSA.sign(claims(exp=int(NOW) - 29))).ok
    assert check(RSA.sign(claims(nbf=int(NOW) + 29))).ok
    assert check(RSA.sign(claims(aud=["billing", AUDIENCE]))).ok


def test_no_audiences_configured_means_aud_is_not_checked() -> None:
    assert check(RSA.sign(claims(aud="anything")), provider(RSA, audiences=())).ok


def test_garbage_is_malformed() -> None:
    assert check("not.a.jwt").reason is Reason.MALFORMED
    assert check("").reason is Reason.MALFORMED


def test_several_providers_pick_by_issuer() -> None:
    other = JwtProvider("other", "https://other.test", KeySource.INLINE, jwks(EC))
    corp = provider(RSA)
    caches = {p.name: KeyCache(p) for p in (corp, other)}
    assert decide(EC.sign(claims(iss="https://other.test", aud=None)), [corp, other], caches, NOW).ok
    assert decide(RSA.sign(claims()), [corp, other], caches, NOW).ok
    # The right issuer, but signed by the other issuer's key: that key is not the provider's.
    assert decide(EC.sign(claims()), [corp, other], caches, NOW).reason is Reason.UNKNOWN_KID
    unknown = decide(RSA.sign(claims(iss="https://nobody.test")), [corp, other], caches, NOW)
    assert unknown.reason is Reason.UNKNOWN_ISSUER


def test_no_keys_loaded_yet() -> None:
    p = JwtProvider("corp", ISSUER, KeySource.FILE, "/nonexistent/jwks.json")
    assert decide(RSA.sign(claims()), [p], {p.name: KeyCache(p)}, NOW).reason is Reason.NO_KEYS


def test_a_verified_token_skips_the_signature_next_time_but_not_the_claims_nor_a_key_change() -> None:
    p = provider(RSA, EC)
    cache = KeyCache(p)
    token = EC.sign(claims(exp=int(NOW) + 60))
    assert decide(token, [p], {p.name: cache}, NOW).ok and len(cache.verified) == 1
    assert decide(token, [p], {p.name: cache}, NOW).ok and len(cache.verified) == 1  # remembered
    assert decide(token, [p], {p.name: cache}, NOW + 91).reason is Reason.EXPIRED  # claims checked at each `now`
    assert cache.keys is not None
    cache.installed(KeyCache(provider(RSA)).keys or cache.keys, 0.0)  # the issuer withdrew EC's key
    assert not cache.verified
    assert decide(token, [p], {p.name: cache}, NOW).reason is Reason.UNKNOWN_KID
