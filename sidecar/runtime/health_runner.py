"""Drive active health checks: ask each cluster's HealthTracker what is due, run the checks, report back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence

from sidecar.core.transport import Prober
from sidecar.discovery.endpoints import Resolved
from sidecar.layers.cluster.state import ClusterRuntime

log = logging.getLogger(__name__)


async def _check_one(prober: Prober, runtime: ClusterRuntime, address: str) -> None:
    tracker = runtime.health
    if tracker is None:
        return
    policy = tracker.policy
    try:
        passed, detail = await prober.check(address, runtime.cluster.authority, policy.service, policy.timeout)
    except Exception as exc:  # a broken probe is a failed check, never a dead runner
        passed, detail = False, f"probe error: {exc}"
    before = tracker.endpoints.get(address)
    was = before.health if before is not None else None
    now = runtime.clock()
    health = tracker.record(address, passed, now, detail)
    if was is not None and health is not was:
        log.info("cluster %s endpoint %s health %s -> %s (%s)", runtime.name, address, was.value, health.value, detail)


async def run_due(prober: Prober, runtimes: Iterable[ClusterRuntime], tasks: set[asyncio.Task[None]]) -> None:
    """Start a check for every endpoint that is due; checks run concurrently in `tasks`."""
    for runtime in runtimes:
        tracker = runtime.health
        if tracker is None:
            continue
        for address in tracker.due(runtime.clock()):
            task = asyncio.create_task(_check_one(prober, runtime, address))
            tasks.add(task)
            task.add_done_callback(tasks.discard)


async def watch(
    prober: Prober, runtimes: Callable[[], Iterable[ClusterRuntime]], sync: Callable[[], None], tick: float = 0.1
) -> None:
    """Forever: keep trackers in step with the endpoint sets, start due checks, sleep `tick`."""
    tasks: set[asyncio.Task[None]] = set()
    try:
        while True:
            sync()
            await run_due(prober, runtimes(), tasks)
            await asyncio.sleep(tick)
    finally:
        for task in tasks:
            task.cancel()


async def run(
    clusters: Callable[[], Iterable[tuple[ClusterRuntime, Sequence[Resolved]]]], prober: Prober, tick: float = 0.25
) -> None:
    """The sidecar's health-check task: `clusters()` gives each runtime with its current endpoints."""

    def sync() -> None:
        keep: set[tuple[str, str]] = set()
        for runtime, endpoints in clusters():
            if runtime.health is not None:
                runtime.sync(endpoints, runtime.clock())
                keep.update((ep.address, runtime.cluster.authority) for ep in endpoints)
        prober.keep(keep)  # endpoints gone or no longer checked lose their connections

    try:
        await watch(prober, lambda: [rt for rt, _ in clusters()], sync, tick)
    finally:
        await prober.close()
