"""Publish events to `apex:events:{service}`; while Redis is unreachable, buffer them (bounded) and
send them, in order, when it answers again. Dropped events are counted, never silent.

Order: while anything is buffered, a new event goes behind it, and each publish (or `flush()`)
first sends the buffer oldest first, one XADD at a time, removing an event only once Redis took
it. Delivery is at least once: an XADD whose reply was lost in a disconnect is sent again (the
Event's `sequence`, per publisher, lets a subscriber spot the duplicate).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apex.mesh.bus.buffer import OfflineBuffer
from apex.mesh.bus.events import Priority, encode, new_event
from apex.mesh.contract.streams import events_key

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
DEFAULT_BUFFER = 10_000
DEFAULT_MAXLEN = 100_000  # approximate MAXLEN of each events stream


@dataclass
class PublisherStats:
    published: int = 0  # events Redis took (directly or from the buffer)
    buffered: int = 0  # events that went to the buffer because Redis was unreachable
    flushed: int = 0  # buffered events sent later
    dropped: int = 0  # events lost to a full buffer (see dropped_by_priority)
    dropped_by_priority: dict[str, int] = field(default_factory=dict)
    pending: int = 0  # events in the buffer now


class EventPublisher:
    """Publishes one instance's events about `service` (a redis.asyncio client, cluster or not).

    Give the client no retries of its own (e.g. `retry=Retry(NoBackoff(), 0)`) and short socket
    timeouts: a publish then buffers at once instead of waiting on redis-py's reconnect attempts.
    """

    def __init__(
        self,
        client: Any,
        service: str,
        instance: str = "",
        *,
        buffer_size: int = DEFAULT_BUFFER,
        maxlen: int = DEFAULT_MAXLEN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.service = service
        self.instance = instance
        self.key = events_key(service)
        self.maxlen = maxlen
        self.buffer = OfflineBuffer(buffer_size)
        self._clock = clock
        self._sequence = 0
        self._published = 0
        self._buffered = 0
        self._flushed = 0

    @property
    def stats(self) -> PublisherStats:
        return PublisherStats(
            published=self._published,
            buffered=self._buffered,
            flushed=self._flushed,
            dropped=self.buffer.dropped,
            dropped_by_priority={Priority(p).name: n for p, n in sorted(self.buffer.dropped_by_priority.items())},
            pending=len(self.buffer),
        )

    async def publish(
        self,
        kind: str,
        *,
        priority: Priority = Priority.MEDIUM,
        correlation_id: str = "",
        message: str = "",
        attributes: Mapping[str, str] | None = None,
        **fields: str,
    ) -> str | None:
        """Publish one event; its stream id, or None when it was buffered (or dropped: see stats)."""
        self._sequence += 1
        event = new_event(
            kind, self.service, now=self._clock(), priority=priority, correlation_id=correlation_id,
            instance=self.instance, message=message, attributes=attributes, sequence=self._sequence, **fields,
        )  # fmt: skip
        entry = encode(event)
        if len(self.buffer) and not await self.flush():
            self._buffer(int(priority), entry)
            return None
        try:
            raw = await self._xadd(entry)
        except UNREACHABLE as exc:
            log.warning("events: Redis unreachable (%s); buffering %s", exc, kind)
            self._buffer(int(priority), entry)
            return None
        self._published += 1
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def flush(self) -> bool:
        """Send the buffered events, oldest first; True when the buffer is empty afterwards."""
        while (head := self.buffer.peek()) is not None:
            try:
                await self._xadd(head.fields)
            except UNREACHABLE as exc:
                log.debug("events: flush stopped, Redis unreachable: %s", exc)
                return False
            self.buffer.pop()
            self._published += 1
            self._flushed += 1
        return True

    def _buffer(self, priority: int, entry: dict[bytes, bytes]) -> None:
        self._buffered += 1
        before = self.buffer.dropped
        self.buffer.put(priority, entry)
        if self.buffer.dropped > before:
            log.warning("events: buffer full (%d): dropped one event (%d so far)", self.buffer.capacity, before + 1)

    async def _xadd(self, entry: dict[bytes, bytes]) -> Any:
        fields: Any = entry
        return await self.client.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)
