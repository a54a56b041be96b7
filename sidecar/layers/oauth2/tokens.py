"""When to use, refresh or fetch a route's access token (sans-IO: `now` is passed in)."""

from __future__ import annotations

from dataclasses import dataclass

MIN_BACKOFF = 1.0
MAX_BACKOFF = 30.0
DEFAULT_LIFETIME = 300.0  # a token answer without expires_in is trusted this long


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    obtained_at: float
    expires_at: float


class TokenState:
    """One route's token and what the last fetch taught.

    1. A token is used until it expires (no call waits while one is valid).
    2. A refresh is due `refresh_before` seconds before expiry (at most half the lifetime, so a
       short-lived token is not refreshed continuously), and runs in the background.
    3. A failed fetch backs off (1 s, 2 s, 4 s ... 30 s) before the next attempt; calls without a
       valid token meanwhile fail at once with the last error instead of hammering the endpoint.
    """

    def __init__(self, refresh_before: float) -> None:
        self.refresh_before = refresh_before
        self.token: Token | None = None
        self.last_error = ""
        self.failures = 0  # consecutive
        self.next_attempt = 0.0

    def usable(self, now: float) -> str | None:
        token = self.token
        return token.value if token is not None and now < token.expires_at else None

    def refresh_at(self) -> float:
        token = self.token
        if token is None:
            return 0.0
        lifetime = token.expires_at - token.obtained_at
        return token.expires_at - min(self.refresh_before, lifetime / 2)

    def fetch_due(self, now: float) -> bool:
        """A fetch should start now (none is in flight: the driver knows that)."""
        return now >= self.next_attempt and now >= self.refresh_at()

    def installed(self, value: str, expires_in: float | None, now: float) -> Token:
        life = DEFAULT_LIFETIME if expires_in is None else expires_in
        self.token = Token(value, now, now + life)
        self.failures = 0
        self.next_attempt = 0.0
        self.last_error = ""
        return self.token

    def failed(self, error: str, now: float) -> float:
        """Record a failed fetch; returns when the next may start."""
        self.failures += 1
        self.last_error = error
        self.next_attempt = now + min(MIN_BACKOFF * 2 ** (self.failures - 1), MAX_BACKOFF)
        return self.next_attempt
