"""A route's token source: the TokenState driven by background fetches (one at a time) on the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from apex.mesh.security.secrets import REDACTOR, resolve

from sidecar.layers.oauth2 import endpoint
from sidecar.layers.oauth2.endpoint import Answer, TokenError
from sidecar.layers.oauth2.tokens import TokenState
from sidecar.policy.oauth2_model import OAuth2

log = logging.getLogger(__name__)

Fetch = Callable[[OAuth2, str], Answer]  # blocking; run in a worker thread


class TokenSource:
    """Gives calls the route's access token: at once while one is valid (a refresh due meanwhile
    runs in the background); the first call, or one after expiry, waits for the fetch in flight."""

    def __init__(self, settings: OAuth2, fetch: Fetch = endpoint.fetch, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.state = TokenState(settings.refresh_before)
        self.counts: Counter[str] = Counter()  # fetched, failed, refreshed (fetched over a token), calls_refused
        self._fetch = fetch
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def token(self) -> str:
        """The access token for one call; TokenError (with the last failure) when there is none."""
        now = self._clock()
        value = self.state.usable(now)
        if self._task is None and self.state.fetch_due(now):
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        if value is not None:
            return value
        if self._task is not None:
            await asyncio.shield(self._task)
            value = self.state.usable(self._clock())
            if value is not None:
                return value
        self.counts["calls_refused"] += 1
        raise TokenError(self.state.last_error or f"no access token from {self.settings.token_url} yet")

    async def _refresh(self) -> None:
        settings = self.settings
        try:
            secret = resolve(settings.client_secret)  # read at each fetch: a rotated secret file is picked up
            answer = await asyncio.to_thread(self._fetch, settings, secret)
        except (TokenError, ValueError) as exc:
            retry_at = self.state.failed(str(exc), self._clock())
            self.counts["failed"] += 1
            log.warning("oauth2 %s: %s (next attempt in %.0fs)", settings.client_id, exc, retry_at - self._clock())
        else:
            old = self.state.token
            token = self.state.installed(REDACTOR.add(answer.access_token), answer.expires_in, self._clock())
            if old is not None and old.value != token.value:
                REDACTOR.discard(old.value)
            self.counts["fetched"] += 1
            if old is not None:
                self.counts["refreshed"] += 1
            log.info("oauth2 %s: new access token from %s, valid %.0fs", settings.client_id, settings.token_url,
                     token.expires_at - token.obtained_at)  # fmt: skip
        finally:
            self._task = None

    async def close(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
