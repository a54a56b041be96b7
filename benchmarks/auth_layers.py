"""CPU per call of JWT verification and authorization decisions, in process (no network): µs per call.

    python -m benchmarks.auth_layers [--calls N]

Rows: `verify.decide` for each algorithm with a new token every call (the signature is checked) and
with one token reused (the key cache remembers it verified: claims only); `authz.evaluate` over
five policies (a DENY by principal, a DENY by method, a DENY by claim, an ALLOW by namespace with a
claim condition); and the authn → authz layers around an in-memory upstream against no layer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, Service
from sidecar.layers.authn.keys import KeyCaches
from sidecar.layers.authn.layer import Authn
from sidecar.layers.authn.verify import decide
from sidecar.layers.authz.decide import evaluate
from sidecar.layers.authz.layer import Authz
from sidecar.policy.auth_model import (
    Action,
    AuthzPolicy,
    AuthzRule,
    Condition,
    JwtProvider,
    JwtRule,
    KeySource,
    RequestAuthentication,
)
from sidecar.telemetry.registry import Series

ISSUER = "https://issuer.bench"
NOW = 1_800_000_000.0
PRINCIPAL = "spiffe://cluster.local/ns/shop/sa/frontend"
METHOD = "/shop.Orders/Get"


def _keys() -> list[tuple[str, Any, dict[str, Any]]]:
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = ec.generate_private_key(ec.SECP256R1())
    d = ed25519.Ed25519PrivateKey.generate()
    return [
        ("RS256", r, RSAAlgorithm.to_jwk(r.public_key(), as_dict=True)),
        ("ES256", e, ECAlgorithm.to_jwk(e.public_key(), as_dict=True)),
        ("EdDSA", d, OKPAlgorithm.to_jwk(d.public_key(), as_dict=True)),
    ]


def _per_call(n: int, run: Callable[[int], object]) -> float:
    start = time.process_time()
    for i in range(n):
        run(i)
    return (time.process_time() - start) / n * 1e6


def _policies() -> tuple[AuthzPolicy, ...]:
    scope = Condition("request.auth.claims[scope]", "claim", ("scope",), ("orders:*",))
    guest = Condition("request.auth.claims[role]", "claim", ("role",), ("guest",))
    return (
        AuthzPolicy("no-evil", Action.DENY, rules=(AuthzRule(principals=("spiffe://*/sa/evil",)),)),
        AuthzPolicy("no-deletes", Action.DENY, rules=(AuthzRule(methods=("/shop.Orders/Delete*",)),)),
        AuthzPolicy("no-guests", Action.DENY, rules=(AuthzRule(when=(guest,)),)),
        AuthzPolicy("shop", rules=(AuthzRule(namespaces=("shop",), when=(scope,)),)),
        AuthzPolicy("batch", rules=(AuthzRule(namespaces=("batch",)),)),
    )


async def _upstream(request: Request) -> Response:
    return BufferedResponse(Status(Code.OK), [b"answer"])


async def _no_messages() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover


def _layers(n: int, service: Service, metadata: tuple[tuple[str, str], ...]) -> float:
    call = CallDescriptor(METHOD, metadata=metadata, principal=PRINCIPAL)

    async def run() -> float:
        start = time.process_time()
        for _ in range(n):
            response = await service(Request(call, _no_messages()))
            await response.status()
        return (time.process_time() - start) / n * 1e6

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    n = parser.parse_args(argv).calls
    keys = _keys()
    document = json.dumps({"keys": [{**jwk, "kid": alg, "alg": alg, "use": "sig"} for alg, _, jwk in keys]})
    provider = JwtProvider("corp", ISSUER, KeySource.INLINE, document, audiences=("orders",))
    config = RequestAuthentication((provider,), (JwtRule("api", ("corp",), required=True),))
    caches = KeyCaches()
    caches.update(config.providers)
    body = {"iss": ISSUER, "aud": "orders", "sub": "alice", "exp": int(NOW) + 600, "scope": ["orders:read"]}
    print(f"{'row':<44} {'µs/call':>8}")
    for alg, private, _ in keys:
        tokens = [jwt.encode({**body, "jti": str(i)}, private, algorithm=alg, headers={"kid": alg}) for i in range(n)]
        fresh = _per_call(n, lambda i, t=tokens: decide(t[i], [provider], caches.by_name, NOW))
        again = _per_call(n, lambda i, t=tokens: decide(t[0], [provider], caches.by_name, NOW))
        print(f"{'verify ' + alg + ', new token each call':<44} {fresh:>8.1f}")
        print(f"{'verify ' + alg + ', same token (remembered)':<44} {again:>8.1f}")
    policies = _policies()
    call = CallDescriptor(METHOD, principal=PRINCIPAL, claims=body)
    print(f"{'authz evaluate, 5 policies (allowed)':<44} {_per_call(n, lambda _: evaluate(policies, call)):>8.1f}")
    token = jwt.encode(body, keys[1][1], algorithm="ES256", headers={"kid": "ES256"})
    metadata = (("authorization", f"Bearer {token}"),)
    series = Series()
    both = Authn(config.rules[0], config, caches, series, clock=lambda: NOW)(Authz(policies, series)(_upstream))
    bare = _layers(n, _upstream, metadata)
    layered = _layers(n, both, metadata)
    print(f"{'no layer (upstream only)':<44} {bare:>8.1f}")
    print(f"{'authn (ES256, same token) + authz layers':<44} {layered:>8.1f}  (+{layered - bare:.1f})")


if __name__ == "__main__":
    main()
