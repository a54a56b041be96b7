"""JWKS documents → public verification keys (PyJWT's JWK parsing on pyca cryptography keys); pure.

Only asymmetric signing keys are kept: RSA (RS256), EC P-256 (ES256) and Ed25519 (EdDSA); keys for
encryption or other algorithms are skipped. A document holding a symmetric (`oct`) key or private
parameters is refused outright: with no HMAC secret in any set, no token can be checked as HS256,
whatever its header says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_JWKS_BYTES = 1024 * 1024
MAX_KEYS = 100
_PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "k")
_INFER: dict[tuple[object, object], str] = {
    ("RSA", None): "RS256",
    ("EC", "P-256"): "ES256",
    ("OKP", "Ed25519"): "EdDSA",
}
_FAMILY = {"RS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}


class JwksError(ValueError):
    """A JWKS document that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str  # "" when the JWK has none
    algorithm: str  # RS256 / ES256 / EdDSA: the only algorithm this key verifies
    key: Any  # a pyca public key object, as PyJWT's algorithms take it


@dataclass(frozen=True, slots=True)
class KeySet:
    keys: tuple[VerificationKey, ...]
    skipped: int = 0  # JWKs ignored (symmetric, encryption-only, unsupported)

    def find(self, kid: str | None, algorithm: str) -> list[VerificationKey]:
        """Keys that may verify a token with header `kid` and `alg`: same kid (any, when the token has
        none) and exactly the key's algorithm."""
        return [k for k in self.keys if k.algorithm == algorithm and (kid is None or k.kid == kid)]

    def has_kid(self, kid: str) -> bool:
        return any(k.kid == kid for k in self.keys)


def _algorithm(jwk: dict[str, Any]) -> str | None:
    kty, crv, alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    inferred = _INFER.get((kty, None if kty == "RSA" else crv))
    if alg is None:
        return inferred
    return alg if isinstance(alg, str) and _FAMILY.get(alg) == kty and inferred == alg else None


def parse_jwks(data: bytes) -> KeySet:
    """Parse a JWKS document; raise JwksError when it is malformed or holds no usable signing key."""
    from jwt import PyJWK  # PyJWT (and cryptography) only where a JWT rule is configured
    from jwt.exceptions import PyJWKError, PyJWTError

    if len(data) > MAX_JWKS_BYTES:
        raise JwksError(f"JWKS is {len(data)} bytes, over the limit of {MAX_JWKS_BYTES}")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwksError(f"JWKS is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksError('JWKS must be an object with a "keys" list')
    entries = doc["keys"]
    if len(entries) > MAX_KEYS:
        raise JwksError(f"JWKS has {len(entries)} keys, over the limit of {MAX_KEYS}")
    keys: list[VerificationKey] = []
    skipped = 0
    for i, jwk in enumerate(entries):
        if not isinstance(jwk, dict):
            raise JwksError(f"keys[{i}] is not an object")
        if any(name in jwk for name in _PRIVATE):
            raise JwksError(f"keys[{i}] holds private or symmetric key material; publish public keys only")
        use = jwk.get("use")
        algorithm = _algorithm(jwk)
        if (use is not None and use != "sig") or algorithm is None:
            skipped += 1
            continue
        kid = jwk.get("kid", "")
        if not isinstance(kid, str):
            raise JwksError(f"keys[{i}].kid must be a string")
        try:
            parsed = PyJWK(jwk, algorithm)
        except (PyJWKError, PyJWTError, ValueError, TypeError) as exc:
            raise JwksError(f"keys[{i}] ({kid or 'no kid'}): {exc}") from None
        keys.append(VerificationKey(kid, algorithm, parsed.key))
    if not keys:
        raise JwksError(f"JWKS holds no usable signing key (RS256, ES256 or EdDSA); {skipped} skipped")
    return KeySet(tuple(keys), skipped)
