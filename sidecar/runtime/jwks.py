"""JWKS fetching at the edge: one background task per JWT provider reads its file or https URL into its KeyCache.

The data path never waits here: it reads `KeyCache.keys`, and an unknown `kid` only wakes the task
(rate-limited by the cache). At start-up the sidecar awaits one fetch of every provider (bounded by
FIRST_FETCH_TIMEOUT) before its listeners open, so the first calls find keys; providers that a policy
push adds are fetched in the background (their calls get `no_keys` until then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import urllib.request
from collections.abc import Callable

from apex.mesh.security.secrets import redact_url

from sidecar.layers.authn.keys import KeyCache, KeyCaches
from sidecar.policy.auth_model import JwtProvider, KeySource
from sidecar.security.jwks import MAX_JWKS_BYTES, JwksError, parse_jwks

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 10.0  # seconds for one https fetch
FIRST_FETCH_TIMEOUT = 10.0


def read_source(provider: JwtProvider) -> bytes:
    """The JWKS bytes from the provider's file or https URL (blocking: run in a thread)."""
    if provider.source is KeySource.FILE:
        with open(provider.location, "rb") as f:
            data = f.read(MAX_JWKS_BYTES + 1)
    elif provider.source is KeySource.URI:
        context = ssl.create_default_context(cafile=provider.ca_file or None)
        request = urllib.request.Request(provider.location, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT, context=context) as response:
            if response.status != 200:
                raise JwksError(f"HTTP status {response.status}")
            data = response.read(MAX_JWKS_BYTES + 1)
    else:
        return provider.location.encode()
    if len(data) > MAX_JWKS_BYTES:
        raise JwksError(f"JWKS is over the limit of {MAX_JWKS_BYTES} bytes")
    return data


def where(provider: JwtProvider) -> str:
    return redact_url(provider.location) if provider.source is KeySource.URI else provider.location


async def fetch_once(cache: KeyCache, clock: Callable[[], float] = time.monotonic) -> bool:
    """Fetch and install the provider's keys now; on failure keep the old keys (and say why)."""
    provider = cache.provider
    try:
        keys = parse_jwks(await asyncio.to_thread(read_source, provider))
    except (OSError, ValueError) as exc:  # URLError, ssl and JwksError are among these
        cache.failed(f"{type(exc).__name__}: {exc}", clock())
        log.warning(
            "JWKS of provider %s from %s: %s (%s keys kept; retry in %.0fs)", provider.name, where(provider),
            cache.last_error, "no" if cache.keys is None else len(cache.keys.keys), cache.delay(clock()),
        )  # fmt: skip
        return False
    cache.installed(keys, clock())
    log.info("JWKS of provider %s from %s: key ids %s", provider.name, where(provider),
             [k.kid for k in keys.keys])  # fmt: skip
    return True


class JwksFetcher:
    """Keeps one refresh task per fetched key cache, following the caches a policy swap keeps or replaces."""

    def __init__(self, caches: KeyCaches, clock: Callable[[], float] = time.monotonic) -> None:
        self._caches = caches
        self._clock = clock
        self._tasks: dict[int, tuple[KeyCache, asyncio.Task[None]]] = {}
        self._running = False
        caches.changed = self.sync

    async def start(self, timeout: float = FIRST_FETCH_TIMEOUT) -> None:
        """Fetch every provider once (bounded by `timeout`), then keep them fresh in the background."""
        pending = [c for c in self._caches.by_name.values() if c.fetched and c.keys is None]
        if pending:
            done = asyncio.gather(*(fetch_once(c, self._clock) for c in pending))
            try:
                await asyncio.wait_for(done, timeout)
            except TimeoutError:
                log.warning("JWKS: first fetch not finished within %.0fs; continuing in the background", timeout)
        self._running = True
        self.sync()

    def sync(self) -> None:
        """Start tasks for new caches, cancel those of caches the policy dropped or replaced."""
        if not self._running:
            return
        current = {id(c): c for c in self._caches.by_name.values() if c.fetched}
        for key in list(self._tasks):
            if key not in current:
                self._tasks.pop(key)[1].cancel()
        for key, cache in current.items():
            if key not in self._tasks:
                self._tasks[key] = (cache, asyncio.get_running_loop().create_task(self._run(cache)))

    async def _run(self, cache: KeyCache) -> None:
        wake = asyncio.Event()
        cache.wake = wake.set
        while True:
            delay = cache.delay(self._clock())
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
                wake.clear()
                if cache.delay(self._clock()) > 0:
                    continue
            try:
                await fetch_once(cache, self._clock)
            except Exception:  # never let one provider's task die
                log.exception("JWKS refresh of provider %s failed", cache.provider.name)
                cache.failed("internal error", self._clock())

    async def close(self) -> None:
        self._running = False
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
