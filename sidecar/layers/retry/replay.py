"""Reads a caller's request stream once for several attempts, replaying its buffered first message.

A retry may resend only what was buffered: the first message. Once the caller's second message
has been pulled the call is *committed* and no further attempt can start. Pulls from the
caller run in a shielded task so cancelling a failed attempt never breaks the caller's stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class Replay:
    __slots__ = ("_ended", "_first", "_pending", "_pulled", "_source")

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._first: bytes | None = None
        self._pulled = 0  # messages read from the caller so far
        self._ended = False
        self._pending: asyncio.Future[bytes | None] | None = None

    @property
    def committed(self) -> bool:
        """True once more than the first message went upstream: the call can no longer be replayed."""
        return self._pulled > 1

    async def _next(self) -> bytes | None:
        try:
            message: bytes | None = await anext(self._source)
        except StopAsyncIteration:
            message = None
        if message is None:
            self._ended = True
        else:
            self._pulled += 1
            if self._pulled == 1:
                self._first = message
        self._pending = None
        return message

    async def _pull(self) -> bytes | None:
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.ensure_future(self._next())
            pending.add_done_callback(_retrieve)
        return await asyncio.shield(pending)

    async def messages(self) -> AsyncIterator[bytes]:
        """The request stream of one attempt: the buffered first message, then live messages."""
        position = 0
        while True:
            if position == 0 and self._pulled >= 1:
                assert self._first is not None
                yield self._first
                position = 1
                continue
            if position < self._pulled or self._ended:
                return  # a stale attempt cannot be replayed beyond the first message
            message = await self._pull()
            if message is None:
                return
            yield message
            position += 1

    def close(self) -> None:
        """Cancel a pull still in flight (the whole call is over)."""
        if self._pending is not None:
            self._pending.cancel()


def _retrieve(future: asyncio.Future[bytes | None]) -> None:
    """Mark a failed pull's error as seen: its awaiter may have been cancelled meanwhile."""
    if not future.cancelled():
        future.exception()
