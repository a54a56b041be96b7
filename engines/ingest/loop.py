"""The engines' consumer loop (forecaster, tuner): read, decide, save, then acknowledge; retry Redis; save on stop.

An engine keeps what it has read and counted in a `Held` list until the state that counted it is
saved; only then are those entries acknowledged (exactly once in effect: a restarted engine
re-reads what was not acknowledged, and skips what its saved state already holds).

`run(engine, stop, rediscover_every)`:
1. `start()` once (restore the saved state, re-read this consumer's own pending entries);
2. every `rediscover_every` seconds, `rediscover(now)`: new streams, a dead peer's entries;
3. `step(now)`: read what arrived and act on it (the engine saves on its own cadence: `Every`);
4. a Redis or socket error is logged and the loop retries after a second (or stops, if asked to);
5. when `stop` is set: `save(now)` one last time, so the acknowledgements it allows are not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from redis.exceptions import RedisError

from engines.ingest.consumer import Entry

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER = 1.0  # seconds between attempts while Redis is unreachable


class Engine(Protocol):
    async def start(self) -> None: ...

    async def rediscover(self, now: float) -> None: ...

    async def step(self, now: float) -> None: ...

    async def save(self, now: float) -> None: ...


@dataclass(slots=True)
class Every:
    """A cadence: `due(now)` is True (and restarts the interval) once `interval` seconds have passed."""

    interval: float
    last: float = -math.inf  # the first call is due

    def due(self, now: float) -> bool:
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class Held(Generic[T]):
    """Entries read and counted but not yet acknowledged, each with the (key, second) it counted in."""

    def __init__(self) -> None:
        self.items: list[tuple[Entry[T], str, int]] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, entry: Entry[T], key: str, second: int) -> None:
        self.items.append((entry, key, second))

    def release(self, saved: Callable[[str, int], bool]) -> list[Entry[T]]:
        """The entries whose (key, second) the saved state holds (to acknowledge now); the rest stay held."""
        done: list[Entry[T]] = []
        keep: list[tuple[Entry[T], str, int]] = []
        for item in self.items:
            if saved(item[1], item[2]):
                done.append(item[0])
            else:
                keep.append(item)
        self.items = keep
        return done


async def run(engine: Engine, stop: asyncio.Event, rediscover_every: float,
              clock: Callable[[], float] = time.time, retry_after: float = RETRY_AFTER) -> None:  # fmt: skip
    """Drive `engine` until `stop` is set (the steps are in the module docstring)."""
    started = False
    rediscover = Every(rediscover_every)
    try:
        while not stop.is_set():
            try:
                if not started:
                    await engine.start()
                    started = True
                now = clock()
                if rediscover.due(now):
                    await engine.rediscover(now)
                await engine.step(now)
            except (OSError, RedisError) as exc:
                log.warning("telemetry read failed (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), retry_after)
    finally:
        if started:
            with contextlib.suppress(OSError, RedisError):
                await engine.save(clock())


__all__ = ["Engine", "Every", "Held", "run"]
