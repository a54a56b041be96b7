"""The authn layer: verify a route's JWT (when its rule asks) and hand the claims to the layers below.

Per call:
1. remove every metadata key the rule's providers forward claims under (a caller cannot forge them);
2. find the token (`authorization: Bearer <token>`, or the provider's own header); none: UNAUTHENTICATED
   when the rule requires one, else the call goes on without a request principal;
3. `verify.decide` at the wall-clock `now`; a rejection is UNAUTHENTICATED with the verdict's message
   and the counter `authn_rejected_<reason>`;
4. accepted: the token header is removed (unless `forward_token`), the selected claims are added as
   metadata, and `request_principal` ("<iss>/<sub>") and `claims` go into the call descriptor.
The token itself is never logged or counted.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sidecar.core.call import CallDescriptor, Code, Metadata
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.layers.authn import verify
from sidecar.layers.authn.keys import KeyCaches
from sidecar.policy.auth_model import DEFAULT_HEADER, JwtProvider, JwtRule, RequestAuthentication, selects
from sidecar.telemetry.registry import Series

MAX_CLAIM_BYTES = 4096  # a forwarded claim longer than this is left out (metadata limits upstream)
ACCEPTED = "authn_accepted"
NO_TOKEN = "authn_no_token"
REJECTED = "authn_rejected_"  # + Reason.value


def rule_for(config: RequestAuthentication, listener: str, inbound: bool, route: str) -> JwtRule | None:
    """The first JWT rule selecting this route of this listener (None: no authn layer)."""
    for rule in config.rules:
        if selects(rule.listeners, rule.routes, listener, inbound, route):
            return rule
    return None


def token_of(call: CallDescriptor, headers: tuple[str, ...]) -> tuple[str, str] | None:
    """(token, header) from the first of `headers` carrying one; `authorization` only with the Bearer scheme."""
    for header in headers:
        value = call.header(header)
        if value is None:
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if text[:7].lower() == "bearer ":
            text = text[7:]
        elif header == DEFAULT_HEADER:
            continue  # another scheme (Basic, ...): not ours
        text = text.strip()
        if text:
            return text, header
    return None


def claim_text(value: Any) -> str | None:
    """A claim as a metadata value: strings as they are (percent-encoded beyond printable ASCII),
    lists joined by commas, objects as compact JSON; None when too long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    if not (text.isascii() and text.isprintable()):
        text = quote(text, safe="")
    return text if len(text) <= MAX_CLAIM_BYTES else None


def forwarded(claims: Any, provider: JwtProvider) -> Metadata:
    out: list[tuple[str, str]] = []
    for claim, key in provider.forward_claims:
        if claim in claims and (text := claim_text(claims[claim])) is not None:
            out.append((key, text))
    return tuple(out)


class Authn:
    """Verify JWTs for one route under `rule`; counters go to the route's series."""

    name = "authn"

    def __init__(
        self,
        rule: JwtRule,
        config: RequestAuthentication,
        caches: KeyCaches,
        series: Series,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rule = rule
        self.providers = tuple(config.provider(name) for name in rule.providers)
        self.caches = caches
        self.series = series
        self.clock = clock
        self.monotonic = monotonic

    def __call__(self, inner: Service) -> Service:
        providers, caches, series, clock, monotonic = (
            self.providers, self.caches, self.series, self.clock, self.monotonic,
        )  # fmt: skip
        required = self.rule.required
        headers = tuple(dict.fromkeys(p.header for p in providers))
        claim_keys = frozenset(key for p in providers for _, key in p.forward_claims)
        missing = f"apex: JWT missing: send `{headers[0]}: Bearer <token>`"

        async def authn(request: Request) -> Response:
            call = request.call
            metadata = call.metadata
            if claim_keys and any(k in claim_keys for k, _ in metadata):
                metadata = tuple(item for item in metadata if item[0] not in claim_keys)
            found = token_of(call, headers)
            if found is None:
                if required:
                    series.count(REJECTED + verify.Reason.MISSING.value)
                    return local_error(Code.UNAUTHENTICATED, missing)
                series.count(NO_TOKEN)
                if metadata is not call.metadata:
                    request.call = dataclasses.replace(call, metadata=metadata)
                return await inner(request)
            token, header = found
            verdict = verify.decide(token, providers, caches.by_name, clock(), monotonic())
            if verdict.reason is not None:
                series.count(REJECTED + verdict.reason.value)
                return local_error(Code.UNAUTHENTICATED, verdict.message)
            provider, claims = verdict.provider, verdict.claims
            assert provider is not None and claims is not None
            series.count(ACCEPTED)
            if not provider.forward_token:
                metadata = tuple(item for item in metadata if item[0] != header)
            request.call = dataclasses.replace(
                call,
                metadata=metadata + forwarded(claims, provider),
                request_principal=verdict.request_principal,
                claims=claims,
            )
            return await inner(request)

        return authn
