"""Publish telemetry windows and events to Redis Streams, off the data path.

Two tasks: the ticker rolls a window every `window` seconds (a copy of in-process counters — no
I/O) into a bounded buffer; the sender drains the buffer with pipelined `XADD ... MAXLEN ~ N`.
While Redis is unreachable the buffer keeps the newest windows (the oldest are dropped and
counted) and the sender retries with exponential backoff and full jitter. Calls never wait on any
of this: the data path only bumps counters in the registry.

An idle sidecar (no call started or finished, nothing in flight, no counter moved, same policy
version and states) does not publish an empty window every `window`: it publishes one heartbeat
window every HEARTBEAT_EVERY seconds, covering the whole idle span (its window_start is the start
of the first idle window skipped), so readers still see the instance alive and the time covered
has no holes. Sequence numbers count published windows (no gaps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from apex.mesh.bus.connect import connect
from apex.mesh.contract.backoff import Backoff
from apex.mesh.contract.streams import EVENT_FIELD, WINDOW_FIELD, events_key, telemetry_key
from apex.mesh.v1 import telemetry_pb2
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sidecar.telemetry.registry import Event, Registry
from sidecar.telemetry.settings import Telemetry
from sidecar.telemetry.window import Identity, Roller

log = logging.getLogger(__name__)

MAX_BATCH = 200  # entries per pipeline round trip
BACKOFF_BASE = 0.1  # resend waits: full jitter from 0.1 s doubling up to 5 s
BACKOFF_CAP = 5.0


def encode_event(event: Event, who: Identity, sequence: int) -> bytes:
    msg = telemetry_pb2.Event(
        kind=event.kind, priority=int(event.priority), correlation_id=event.correlation_id,
        service=who.service, instance=who.instance, route=event.route, cluster=event.cluster,
        endpoint=event.endpoint, message=event.message, attributes=dict(event.attributes), sequence=sequence,
    )  # fmt: skip
    msg.time.FromNanoseconds(round(event.time * 1e9))
    data: bytes = msg.SerializeToString()
    return data


class Buffer:
    """A bounded FIFO of encoded entries that drops (and counts) the oldest when full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[bytes] = deque()
        self.dropped = 0

    def push(self, item: bytes) -> None:
        self.items.append(item)
        self._trim()

    def take(self, n: int) -> list[bytes]:
        return [self.items.popleft() for _ in range(min(n, len(self.items)))]

    def put_back(self, batch: list[bytes]) -> None:
        """Return an unsent batch to the front (it is older than anything pushed since)."""
        self.items.extendleft(reversed(batch))
        self._trim()

    def _trim(self) -> None:
        while len(self.items) > self.capacity:
            self.items.popleft()
            self.dropped += 1

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class PublisherStats:
    windows_published: int = 0
    events_published: int = 0
    publish_errors: int = 0
    reconnects: int = 0
    connected: bool = False


HEARTBEAT_EVERY = 10.0  # seconds between windows of an idle sidecar (liveness for `apex health`)


def is_idle(window: telemetry_pb2.TelemetryWindow) -> bool:
    """Nothing happened in the window: no call started or finished, none in flight, nothing
    unrouted, no policy-layer counter moved."""
    if window.unrouted:
        return False
    for part in (*window.routes, *window.clusters, *window.endpoints):
        st = part.stats
        if st.calls or st.started or st.in_flight or st.in_flight_peak or any(st.counters.values()):
            return False
    return True


def _states(window: telemetry_pb2.TelemetryWindow) -> tuple[object, ...]:
    """What a reader must not miss even when idle: the policy version and cluster/endpoint states."""
    return (
        window.policy_version,
        tuple((c.name, tuple(sorted(c.states.items()))) for c in window.clusters),
        tuple((e.cluster, e.address, tuple(sorted(e.states.items()))) for e in window.endpoints),
    )


class Publisher:
    def __init__(
        self,
        settings: Telemetry,
        registry: Registry,
        who: Identity,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.who = who
        self.stats = PublisherStats()
        self.windows = Buffer(settings.buffer_windows)
        self.events = Buffer(settings.buffer_events)
        self._clock = clock
        self._backoff = Backoff(base=BACKOFF_BASE, cap=BACKOFF_CAP, rng=rng or random.Random())
        self._roller = Roller(registry, who, clock())
        self._event_seq = 0
        self._published = 0  # windows pushed: their sequence numbers
        self._last_pushed_at: float | None = None
        self._last_states: tuple[object, ...] | None = None
        self._idle_from: telemetry_pb2.TelemetryWindow | None = None  # first idle window not pushed
        self.heartbeat_every = HEARTBEAT_EVERY
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client = connect(  # redis:// or redis+cluster://
            settings.redis_url,
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),  # our own backoff loop decides when to try again
            health_check_interval=0,
        )
        self.telemetry_key = telemetry_key(who.service)
        self.events_key = events_key(who.service)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._tick()), asyncio.create_task(self._send())]

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Roll the last (partial) window, try briefly to send what is buffered, then close."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.roll(final=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain(), flush_timeout)
        with contextlib.suppress(Exception):
            await self._client.aclose()

    # --- ticker: pure work, never waits on Redis ---------------------------------------------------

    def roll(self, final: bool = False) -> telemetry_pb2.TelemetryWindow | None:
        """Roll a window and push it, unless the sidecar is idle and no heartbeat is due (then None).
        `final` (at stop) always pushes."""
        now = self._clock()
        window = self._roller.roll(now, self.windows.dropped)
        states = _states(window)
        quiet = is_idle(window) and states == self._last_states
        due = self._last_pushed_at is None or now - self._last_pushed_at >= self.heartbeat_every
        pushed: telemetry_pb2.TelemetryWindow | None = None
        if quiet and not due and not final:
            if self._idle_from is None:
                self._idle_from = window
        else:
            if self._idle_from is not None:  # cover the idle span skipped before this window
                start = self._idle_from.window_start.ToNanoseconds()
                end = window.window_start.ToNanoseconds() + window.window.ToNanoseconds()
                window.window_start.FromNanoseconds(start)
                window.window.FromNanoseconds(max(end - start, 0))
                self._idle_from = None
            self._published += 1
            window.sequence = self._published
            self.windows.push(window.SerializeToString())
            self._last_pushed_at = now
            self._last_states = states
            pushed = window
        for event in self.registry.drain_events():
            self._event_seq += 1
            self.events.push(encode_event(event, self.who, self._event_seq))
        self._wake.set()
        return pushed

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.settings.window
        due = loop.time() + period
        while True:
            await asyncio.sleep(max(due - loop.time(), 0.0))
            try:
                self.roll()
            except Exception:
                log.exception("telemetry window roll failed")
            due += period
            if due < loop.time():  # fell far behind (suspended process): skip, don't burst
                due = loop.time() + period

    # --- sender: the only task that talks to Redis -------------------------------------------------

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while len(self.windows) or len(self.events):
                try:
                    await self._send_batch()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.stats.publish_errors += 1
                    if self.stats.connected or self._backoff.attempt == 0:
                        log.warning("telemetry: Redis write failed (%s); buffering and retrying", exc)
                    self.stats.connected = False
                    await asyncio.sleep(self._backoff.next())
                    continue
                if self._backoff.attempt:
                    self.stats.reconnects += 1
                    log.info("telemetry: Redis reachable again after %d attempts", self._backoff.attempt)
                self._backoff.reset()
                self.stats.connected = True

    async def _drain(self) -> None:
        while len(self.windows) or len(self.events):
            await self._send_batch()

    async def _send_batch(self) -> None:
        windows = self.windows.take(MAX_BATCH)
        events = self.events.take(MAX_BATCH)
        try:
            pipe = self._client.pipeline(transaction=False)
            maxlen = self.settings.stream_maxlen
            for data in windows:
                pipe.xadd(self.telemetry_key, {WINDOW_FIELD: data}, maxlen=maxlen, approximate=True)
            for data in events:
                pipe.xadd(self.events_key, {EVENT_FIELD: data}, maxlen=maxlen, approximate=True)
            await pipe.execute()
        except BaseException:
            self.windows.put_back(windows)
            self.events.put_back(events)
            raise
        self.stats.windows_published += len(windows)
        self.stats.events_published += len(events)
