"""JWT verification as a pure decision: `decide(token, providers, caches, now) -> Verdict` (PyJWT does the JOSE part).

Steps, each failure a `Reason` (counted as `authn_rejected_<reason>`) and a message for the caller:
1. parse the header; `alg: none` is refused before anything else;
2. pick the provider by the (not yet verified) `iss` when the rule names several (else its only one);
3. the header's `alg` must be one the provider allows (RS256, ES256, EdDSA at most): HS256 never is,
   so a token "signed" with the RSA public key as an HMAC secret is refused here;
4. the keys: those with the token's `kid` and exactly its algorithm; an unknown `kid` asks the key
   cache for a refresh (the call is still refused: the data path never waits for a fetch);
5. the signature (PyJWT, pinned to that one algorithm and key);
6. the claims at `now` (Unix seconds) with the provider's clock skew: `exp` required and in the
   future, `nbf` (when present) reached, `iss` exact, `aud` one of the provider's audiences.
A token that passed 1-5 before under the provider's current key set (the key cache remembers 1024
per provider, by digest) goes straight to step 6 while its algorithm is still allowed.

PyJWT (and through it cryptography, ~9 MB of RSS) is imported when a token is verified (or a JWKS parsed,
sidecar.security.jwks): only by a sidecar whose policy has a JWT rule, not with this module, which every
sidecar imports.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.layers.authn.keys import KeyCache, token_digest
from sidecar.policy.auth_model import JwtProvider

_NO_CLAIM_CHECKS: Any = {
    "verify_signature": True,
    "verify_exp": False,  # checked below against the `now` passed in
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


class Reason(enum.Enum):
    MISSING = "missing"
    MALFORMED = "malformed"
    ALG_NONE = "alg_none"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    UNKNOWN_ISSUER = "wrong_issuer"
    NO_KEYS = "no_keys"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    NO_EXPIRY = "no_expiry"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_AUDIENCE = "wrong_audience"


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: Reason | None  # None: accepted
    message: str = ""
    provider: JwtProvider | None = None
    claims: Mapping[str, Any] | None = None
    request_principal: str = ""  # "<iss>/<sub>"
    refreshing: bool = False  # an unknown kid started a key refresh

    @property
    def ok(self) -> bool:
        return self.reason is None


def _no(reason: Reason, message: str, provider: JwtProvider | None = None, refreshing: bool = False) -> Verdict:
    return Verdict(reason, f"apex: JWT {message}", provider, refreshing=refreshing)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _pick(token: str, providers: Sequence[JwtProvider]) -> JwtProvider | Verdict:
    """The provider whose issuer the token names (read unverified: it only selects the keys)."""
    import jwt
    from jwt.exceptions import PyJWTError

    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except PyJWTError:
        return _no(Reason.MALFORMED, "is malformed (payload)")
    iss = unverified.get("iss")
    for provider in providers:
        if provider.issuer == iss:
            return provider
    return _no(Reason.UNKNOWN_ISSUER, "issuer is not accepted here")


def check_claims(claims: Mapping[str, Any], provider: JwtProvider, now: float) -> Verdict | None:
    """Step 6: a rejection, or None when the claims hold at `now`."""
    skew = provider.clock_skew
    if claims.get("iss") != provider.issuer:
        return _no(Reason.UNKNOWN_ISSUER, "issuer is not accepted here", provider)
    exp = _number(claims.get("exp"))
    if exp is None:
        return _no(Reason.NO_EXPIRY, "has no valid exp claim", provider)
    if now - skew >= exp:
        return _no(Reason.EXPIRED, "expired", provider)
    if "nbf" in claims:
        nbf = _number(claims.get("nbf"))
        if nbf is None:
            return _no(Reason.MALFORMED, "has an invalid nbf claim", provider)
        if nbf > now + skew:
            return _no(Reason.NOT_YET_VALID, "is not valid yet (nbf)", provider)
    if provider.audiences:
        aud = claims.get("aud")
        names = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in provider.audiences for a in names):
            return _no(Reason.WRONG_AUDIENCE, "audience is not accepted here", provider)
    return None


def decide(token: str, providers: Sequence[JwtProvider], caches: Mapping[str, KeyCache], now: float,
           monotonic: float = 0.0) -> Verdict:  # fmt: skip
    """Verify `token` against the rule's `providers` at wall-clock `now`; `monotonic` times key refreshes."""
    digest = token_digest(token)
    for provider in providers:  # seen before: it verified under this provider's current keys
        cache = caches.get(provider.name)
        seen = None if cache is None else cache.remembered(digest)
        if seen is not None and seen[1] in provider.algorithms:
            return _accepted(seen[0], provider, now)
    import jwt  # here, not at the module's top: see the module docstring
    from jwt.exceptions import PyJWTError

    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        return _no(Reason.MALFORMED, "is malformed")
    alg = header.get("alg")
    if not isinstance(alg, str):
        return _no(Reason.MALFORMED, "header has no alg")
    if alg.lower() == "none":
        return _no(Reason.ALG_NONE, "with alg none (unsigned) refused")
    if len(providers) == 1:
        provider = providers[0]
    else:
        picked = _pick(token, providers)
        if isinstance(picked, Verdict):
            return picked
        provider = picked
    if alg not in provider.algorithms:
        return _no(Reason.ALG_NOT_ALLOWED, f"algorithm {alg[:16]!r} is not allowed", provider)
    cache = caches.get(provider.name)
    if cache is None or cache.keys is None:
        return _no(Reason.NO_KEYS, "keys of the issuer are not loaded yet", provider)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        return _no(Reason.MALFORMED, "header kid is not a string", provider)
    verified = _verify(token, header, alg, provider, cache, monotonic)
    if isinstance(verified, Verdict):
        return verified
    cache.remember(digest, verified, alg)
    return _accepted(verified, provider, now)


def _accepted(claims: Mapping[str, Any], provider: JwtProvider, now: float) -> Verdict:
    """Step 6 on verified claims."""
    rejected = check_claims(claims, provider, now)
    if rejected is not None:
        return rejected
    sub = claims.get("sub")
    principal = f"{provider.issuer}/{sub if isinstance(sub, str) else ''}"
    return Verdict(None, "", provider, claims, principal)


def _verify(token: str, header: Mapping[str, Any], alg: str, provider: JwtProvider, cache: KeyCache,
            monotonic: float) -> Mapping[str, Any] | Verdict:  # fmt: skip
    """Steps 4-5: the token's claims if a key of the set verifies it, else the rejection."""
    import jwt
    from jwt.exceptions import DecodeError, InvalidSignatureError, PyJWTError

    keys = cache.keys
    assert keys is not None
    kid = header.get("kid")
    candidates = keys.find(kid, alg)
    if not candidates:
        if kid is not None and not keys.has_kid(kid):
            refreshing = cache.unknown_kid(monotonic)
            return _no(Reason.UNKNOWN_KID, f"key id {kid[:64]!r} is unknown", provider, refreshing)
        return _no(Reason.BAD_SIGNATURE, f"has no key for algorithm {alg}", provider)
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            claims = jwt.decode_complete(token, key.key, algorithms=[key.algorithm], options=_NO_CLAIM_CHECKS)[
                "payload"
            ]
            break
        except InvalidSignatureError:
            continue
        except DecodeError:
            return _no(Reason.MALFORMED, "is malformed", provider)
        except PyJWTError:
            continue
    if claims is None:
        return _no(Reason.BAD_SIGNATURE, "signature does not verify", provider)
    return claims
