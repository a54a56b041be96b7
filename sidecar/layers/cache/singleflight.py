"""Request coalescing: concurrent misses for one key share one fetch task.

Each caller waits with its own timeout; a waiter that times out or is cancelled leaves the
fetch running for the others (asyncio.shield). When the last waiter leaves an unfinished,
non-detached fetch, the fetch is cancelled, so a lone cancelled caller still cancels upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Flight(Generic[T]):
    __slots__ = ("detached", "task", "waiters")

    def __init__(self, task: asyncio.Task[T], detached: bool) -> None:
        self.task = task
        self.waiters = 0
        self.detached = detached  # background refreshes run to completion even without waiters


class Flights(Generic[T]):
    """The fetches in flight, by key; a finished fetch removes itself."""

    def __init__(self) -> None:
        self._flights: dict[str, Flight[T]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def get(self, key: str) -> Flight[T] | None:
        return self._flights.get(key)

    def lead(self, key: str, fetch: Callable[[], Awaitable[T]], *, detached: bool = False) -> Flight[T]:
        """Start `fetch` as the flight for `key` (there must be none)."""

        async def run() -> T:
            return await fetch()

        task = asyncio.get_running_loop().create_task(run())
        flight = Flight(task, detached)
        self._flights[key] = flight

        def done(_: asyncio.Task[T]) -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]

        task.add_done_callback(done)
        return flight


async def wait(flight: Flight[T], timeout: float | None) -> T:
    """The flight's result, waiting at most `timeout` seconds (TimeoutError after that).

    Cancelling this waiter, or its timeout, never cancels the flight while others still wait.
    """
    flight.waiters += 1
    finished = False
    try:
        result = await asyncio.wait_for(asyncio.shield(flight.task), timeout)
        finished = True
        return result
    finally:
        flight.waiters -= 1
        if not finished and flight.waiters == 0 and not flight.detached and not flight.task.done():
            flight.task.cancel()
