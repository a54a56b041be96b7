"""The engines' shared loop (engines/ingest/loop.py): cadence, held entries, and run() on a fake clock."""

from __future__ import annotations

import asyncio

from engines.ingest.consumer import Entry
from engines.ingest.loop import Every, Held, run


def test_every_is_due_first_then_once_per_interval() -> None:
    every = Every(10.0)
    assert every.due(100.0)
    assert not every.due(109.9)
    assert every.due(110.0)
    late = Every(10.0, last=100.0)  # an engine that saves only after its first interval
    assert not late.due(105.0) and late.due(110.0)


def test_held_releases_only_what_the_saved_state_holds_and_keeps_the_rest_in_order() -> None:
    held: Held[str] = Held()
    for i, (key, second) in enumerate([("a", 1), ("b", 1), ("a", 2), ("a", 3)]):
        held.add(Entry("s", f"{i}-0", f"w{i}"), key, second)
    done = held.release(lambda key, second: key == "a" and second <= 2)
    assert [e.value for e in done] == ["w0", "w2"]
    assert len(held) == 2
    assert [e.value for e in held.release(lambda key, second: True)] == ["w1", "w3"]
    assert len(held) == 0


class Flaky:
    """An engine whose step at t=5 fails as if Redis went away; it asks to stop at its step at t=25."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def rediscover(self, now: float) -> None:
        self.calls.append(f"rediscover {now:g}")

    async def step(self, now: float) -> None:
        self.calls.append(f"step {now:g}")
        if now == 5:
            raise ConnectionResetError("redis went away")
        if now >= 25:
            self.stop.set()

    async def save(self, now: float) -> None:
        self.calls.append(f"save {now:g}")


def test_run_starts_once_rediscovers_on_its_cadence_retries_a_failed_step_and_saves_on_stop() -> None:
    async def main() -> list[str]:
        stop = asyncio.Event()
        engine = Flaky(stop)
        times = iter(range(0, 100, 5))
        await run(engine, stop, rediscover_every=10.0, clock=lambda: float(next(times)), retry_after=0.001)
        return engine.calls

    assert asyncio.run(main()) == [
        "start", "rediscover 0", "step 0", "step 5",  # step 5 failed: retried on the next clock reading
        "rediscover 10", "step 10", "step 15", "rediscover 20", "step 20", "step 25", "save 30",
    ]  # fmt: skip
