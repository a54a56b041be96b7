"""JWKS over HTTPS from a real local server (test-generated certificate): fetch, rotation, failures keep keys."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sidecar.layers.authn.keys import KeyCaches
from sidecar.layers.authn.verify import Reason, decide
from sidecar.policy.auth_model import JwtProvider, KeySource
from sidecar.runtime.jwks import JwksFetcher, fetch_once
from tests.support.https_jwks import JwksServer
from tests.support.jwt_keys import ISSUER, NOW, claims, ec_key, jwks

OLD = ec_key("2026-old")
NEW = ec_key("2026-new")


def provider(url: str, ca_file: Path | str) -> JwtProvider:
    return JwtProvider(
        "corp", ISSUER, KeySource.URI, url, ca_file=str(ca_file), refresh_interval=3600.0, min_refresh_interval=0.05
    )


async def _until(predicate: object, limit: float = 10.0) -> None:
    """Wait (bounded) for the background fetcher; no timing is asserted."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate() and loop.time() < end:  # type: ignore[operator]
        await asyncio.sleep(0.01)


def test_https_fetch_then_rotation_through_an_unknown_kid() -> None:
    async def scenario(server: JwksServer) -> None:
        caches = KeyCaches()
        caches.update([provider(server.url, server.ca_file)])
        fetcher = JwksFetcher(caches)
        await fetcher.start()  # the first fetch, awaited
        cache = caches["corp"]
        try:
            assert cache.keys is not None and [k.kid for k in cache.keys.keys] == ["2026-old"]
            now = NOW
            old_token, new_token = OLD.sign(claims(now=now, aud=None)), NEW.sign(claims(now=now, aud=None))
            p = [cache.provider]
            assert decide(old_token, p, caches.by_name, now).ok
            server.body = jwks(NEW)  # the issuer rotates: the old key is withdrawn
            await asyncio.sleep(0.06)  # past min_refresh_interval since the first fetch
            first = decide(new_token, p, caches.by_name, now, asyncio.get_running_loop().time())
            assert first.reason is Reason.UNKNOWN_KID and first.refreshing  # refused now, refresh started
            await _until(lambda: cache.counters["fetches"] == 2)
            assert decide(new_token, p, caches.by_name, now).ok
            assert decide(old_token, p, caches.by_name, now).reason is Reason.UNKNOWN_KID  # rejected after rotation
            assert server.requests == 2
        finally:
            await fetcher.close()

    with JwksServer(jwks(OLD)) as server:
        asyncio.run(scenario(server))


def test_failures_keep_the_keys_and_say_why() -> None:
    async def scenario(server: JwksServer) -> None:
        caches = KeyCaches()
        caches.update([provider(server.url, server.ca_file)])
        cache = caches["corp"]
        assert await fetch_once(cache)
        keys = cache.keys
        server.status = 500
        assert not await fetch_once(cache)
        assert cache.keys is keys and "500" in cache.last_error
        server.status, server.body = 200, json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
        assert not await fetch_once(cache)
        assert cache.keys is keys and "private or symmetric" in cache.last_error
        untrusted = KeyCaches()  # the system roots do not know the test CA
        untrusted.update([provider(server.url, "")])
        assert not await fetch_once(untrusted["corp"])
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted["corp"].last_error and untrusted["corp"].keys is None
        assert cache.counters["fetch_errors"] == 2

    with JwksServer(jwks(OLD)) as server:
        asyncio.run(scenario(server))
