"""Each JWT provider's keys and when to fetch them again (sans-IO: callers pass `now`, monotonic seconds).

The data path only reads `KeyCache.keys`. A token naming an unknown `kid` asks for a refresh
(`unknown_kid`), at most once per `min_refresh_interval`: the fetcher (sidecar/runtime/jwks.py)
is woken and fetches in the background while the call is answered from the keys in hand.
Failed fetches keep the old keys and retry with exponential backoff (1 s doubling, capped at
`refresh_interval`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sidecar.policy.auth_model import JwtProvider, KeySource
from sidecar.security.jwks import KeySet, parse_jwks

log = logging.getLogger(__name__)

FIRST_RETRY = 1.0
VERIFIED_LIMIT = 1024  # tokens whose signature verified under the current keys, remembered per provider


def token_digest(token: str) -> bytes:
    """What the key cache remembers a verified token by (blake2b-128: never the token itself)."""
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


class KeyCache:
    """One provider's current KeySet (None until the first fetch) and its refresh schedule."""

    def __init__(self, provider: JwtProvider) -> None:
        self.provider = provider
        self.keys: KeySet | None = None
        self.next_fetch = 0.0  # monotonic time the fetcher should fetch at (0: now)
        self.last_fetch = float("-inf")  # last attempt, successful or not
        self.failures = 0  # consecutive failed fetches
        self.last_error = ""
        self.counters: Counter[str] = Counter()  # fetches, fetch_errors, kid_refreshes, kid_refresh_limited
        self.wake: Callable[[], None] = lambda: None  # set by the fetcher: run now
        # token_digest -> (claims, alg): a token seen again skips parsing and the signature check (not
        # the claim checks) while the key set is unchanged; emptied whenever new keys are installed.
        self.verified: OrderedDict[bytes, tuple[Mapping[str, Any], str]] = OrderedDict()
        if provider.source is KeySource.INLINE:
            self.keys = parse_jwks(provider.location.encode())  # validated with the policy already

    @property
    def fetched(self) -> bool:
        """True when keys come from a file or URL (inline keys are never fetched)."""
        return self.provider.source is not KeySource.INLINE

    def delay(self, now: float) -> float:
        """Seconds until the next fetch is due (0 when due now)."""
        return max(0.0, self.next_fetch - now)

    def remembered(self, digest: bytes) -> tuple[Mapping[str, Any], str] | None:
        """(claims, alg) of the token with `digest` (token_digest) if it verified under the current keys."""
        return self.verified.get(digest)

    def remember(self, digest: bytes, claims: Mapping[str, Any], alg: str) -> None:
        self.verified[digest] = (claims, alg)
        if len(self.verified) > VERIFIED_LIMIT:
            self.verified.popitem(last=False)

    def installed(self, keys: KeySet, now: float) -> None:
        """A fetch succeeded: these keys are current (a rotated-out key is gone with the old set)."""
        self.keys = keys
        self.verified.clear()  # a token verified by a withdrawn key must be checked again
        self.last_fetch = now
        self.failures = 0
        self.last_error = ""
        self.next_fetch = now + self.provider.refresh_interval
        self.counters["fetches"] += 1

    def failed(self, error: str, now: float) -> None:
        """A fetch failed: keep the keys in hand, retry with backoff."""
        self.last_fetch = now
        self.failures += 1
        self.last_error = error
        backoff = FIRST_RETRY * 2 ** min(self.failures - 1, 16)
        self.next_fetch = now + min(backoff, self.provider.refresh_interval)
        self.counters["fetch_errors"] += 1

    def unknown_kid(self, now: float) -> bool:
        """A token named a key not in the set: fetch now unless one ran within `min_refresh_interval`."""
        if not self.fetched or now - self.last_fetch < self.provider.min_refresh_interval:
            self.counters["kid_refresh_limited"] += 1
            return False
        self.counters["kid_refreshes"] += 1
        self.next_fetch = now
        self.last_fetch = now  # the rate limit counts from the request, whatever the fetch's outcome
        self.wake()
        return True


class KeyCaches:
    """The key caches of every provider, kept across policy swaps while a provider's key source is unchanged."""

    def __init__(self) -> None:
        self.by_name: dict[str, KeyCache] = {}
        self.changed: Callable[[], None] = lambda: None  # set by the fetcher: the set of caches changed

    def update(self, providers: Iterable[JwtProvider]) -> None:
        fresh: dict[str, KeyCache] = {}
        for provider in providers:
            kept = self.by_name.get(provider.name)
            if kept is not None and kept.provider.keys_key == provider.keys_key:
                kept.provider = provider  # intervals, audiences, claims may change; the keys stay
                fresh[provider.name] = kept
            else:
                fresh[provider.name] = KeyCache(provider)
        replaced = fresh.keys() != self.by_name.keys() or any(fresh[n] is not self.by_name.get(n) for n in fresh)
        self.by_name = fresh
        if replaced:
            self.changed()

    def __getitem__(self, name: str) -> KeyCache:
        return self.by_name[name]

    def get(self, name: str) -> KeyCache | None:
        return self.by_name.get(name)
