"""The JWKS key cache's schedule (sans-IO): refresh, backoff, the unknown-kid rate limit, swaps; JWKS parsing."""

from __future__ import annotations

import json

import pytest

from sidecar.layers.authn.keys import KeyCache, KeyCaches
from sidecar.policy.auth_model import JwtProvider, KeySource
from sidecar.security.jwks import JwksError, parse_jwks
from tests.support.jwt_keys import ISSUER, ec_key, ed_key, jwks, rsa_key


def fetched(**kw: object) -> JwtProvider:
    fields: dict[str, object] = {"refresh_interval": 300.0, "min_refresh_interval": 30.0}
    fields.update(kw)
    return JwtProvider("corp", ISSUER, KeySource.URI, "https://keys.test/jwks", **fields)  # type: ignore[arg-type]


def test_success_schedules_the_next_refresh_and_failures_back_off_keeping_the_keys() -> None:
    cache = KeyCache(fetched())
    assert cache.delay(0.0) == 0.0  # due at once
    keys = parse_jwks(jwks(ec_key("a")).encode())
    cache.installed(keys, 100.0)
    assert cache.delay(100.0) == 300.0 and cache.keys is keys
    delays = []
    for t in (400.0, 401.0, 403.0, 407.0):
        cache.failed("boom", t)
        delays.append(cache.delay(t))
    assert delays == [1.0, 2.0, 4.0, 8.0] and cache.keys is keys and cache.last_error == "boom"
    for _ in range(20):
        cache.failed("boom", 500.0)
    assert cache.delay(500.0) == 300.0  # capped at the refresh interval
    cache.installed(keys, 600.0)
    assert cache.failures == 0 and cache.counters["fetch_errors"] == 24


def test_unknown_kid_wakes_the_fetcher_at_most_once_per_min_refresh_interval() -> None:
    woken: list[bool] = []
    cache = KeyCache(fetched())
    cache.wake = lambda: woken.append(True)
    cache.installed(parse_jwks(jwks(ec_key("a")).encode()), 0.0)
    assert not cache.unknown_kid(10.0)  # 10 s after a fetch: too soon
    assert cache.unknown_kid(31.0) and cache.delay(31.0) == 0.0
    assert not cache.unknown_kid(40.0)  # the refresh just asked for counts too
    assert cache.unknown_kid(61.5)
    assert len(woken) == 2
    assert cache.counters == {"fetches": 1, "kid_refreshes": 2, "kid_refresh_limited": 2}


def test_inline_keys_are_parsed_at_once_and_never_fetched() -> None:
    cache = KeyCache(JwtProvider("corp", ISSUER, KeySource.INLINE, jwks(ed_key("e"))))
    assert cache.keys is not None and not cache.fetched and not cache.unknown_kid(1e9)


def test_a_swap_keeps_the_cache_while_the_key_source_is_unchanged() -> None:
    caches = KeyCaches()
    changes: list[int] = []
    caches.changed = lambda: changes.append(1)
    caches.update([fetched()])
    first = caches["corp"]
    caches.update([fetched(min_refresh_interval=5.0, audiences=("x",))])
    assert caches["corp"] is first and first.provider.min_refresh_interval == 5.0 and changes == [1]
    caches.update([fetched(ca_file="/etc/ca.pem")])
    assert caches["corp"] is not first and changes == [1, 1]
    caches.update([])
    assert caches.get("corp") is None and changes == [1, 1, 1]


def test_jwks_parsing_keeps_signing_keys_and_refuses_secrets() -> None:
    doc = json.loads(jwks(rsa_key("r"), ec_key("e"), ed_key("d")))
    doc["keys"].append({"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"})  # encryption key: skipped
    doc["keys"].append({"kty": "EC", "crv": "P-384", "x": "x", "y": "y"})  # ES384: not ours, skipped
    keys = parse_jwks(json.dumps(doc).encode())
    assert [(k.kid, k.algorithm) for k in keys.keys] == [("r", "RS256"), ("e", "ES256"), ("d", "EdDSA")]
    assert keys.skipped == 2
    with pytest.raises(JwksError, match="private or symmetric"):
        parse_jwks(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).encode())
    with pytest.raises(JwksError, match="no usable signing key"):
        parse_jwks(b'{"keys": []}')
    with pytest.raises(JwksError, match="not JSON"):
        parse_jwks(b"{")
    mislabelled = json.loads(jwks(ec_key("e")))
    mislabelled["keys"][0]["alg"] = "RS256"  # an EC key claiming RS256 is not used for either
    with pytest.raises(JwksError, match="no usable"):
        parse_jwks(json.dumps(mislabelled).encode())
