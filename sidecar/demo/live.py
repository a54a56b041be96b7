"""The demo's live view: each second, read the sidecars, telemetry and engines, draw the dashboard
(or a progress line when not on a terminal), follow the timeline; and the load that drives it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

import grpc
import redis.asyncio as aioredis

from sidecar.demo import dashboard, observe, panels, peers
from sidecar.demo.engines_view import EnginesView
from sidecar.demo.load import LoadGenerator, daily_rate
from sidecar.demo.topology import MAIN_SERVICE

if TYPE_CHECKING:
    from sidecar.demo.mesh import Demo


async def frame(demo: Demo, load: LoadGenerator, telemetry: observe.TelemetryView, cp: Any, dt: float,
                duration: float | None) -> dashboard.Frame:  # fmt: skip
    rows: dict[str, dashboard.ServiceRow] = {}
    states: dict[str, str] = {}
    for sc in demo.sidecars:
        row = await observe.route_row(sc, dt)
        merged = rows.setdefault(sc.service, dashboard.ServiceRow(sc.service, policy_version=row.policy_version))
        total = merged.calls_per_s + row.calls_per_s
        if total:
            merged.error_rate = (merged.error_rate * merged.calls_per_s + row.error_rate * row.calls_per_s) / total
        merged.calls_per_s = total
        if (hit := await observe.cache_hit_rate(sc)) is not None:
            rows.setdefault("pricing", dashboard.ServiceRow("pricing")).cache_hit_rate = hit
        states.update(await observe.ejections(sc))
    await telemetry.refresh()
    for name, row in rows.items():
        row.breaker = states.get(name, "-")
        row.p50_ms, row.p99_ms = telemetry.latest.get(name, (None, None))
    demo.actions = await observe.engine_actions(cp, demo.audit, demo.operator, demo.authors)
    elapsed = time.monotonic() - load.started
    offered = daily_rate(elapsed, demo.period, demo.peak)
    ordered = [rows[s] for s in observe.SERVICES if s in rows]
    demo.history["t"].append(elapsed)
    demo.history["offered"].append(offered)
    demo.history["rows"].append(ordered)
    lines = await peers_panel(demo)
    if demo.engines is not None:
        await demo.engines.refresh()
        main = MAIN_SERVICE
        lines += panels.forecast_panel(main, demo.engines.forecasts.get(main), time.time())
        lines += panels.event_panels(demo.engines.log, tuner_note=demo.tuner_note)
    return dashboard.Frame(elapsed, duration or 0.0, offered, ordered, telemetry.windows, demo.actions,
                           phase=demo.timeline.label(elapsed), panels=lines)  # fmt: skip


async def peers_panel(demo: Demo) -> list[str]:
    """Each sidecar's identity, certificate and callers (read from its admin API), as panel lines."""
    if demo.secrets is None:
        return [peers.INSECURE_NOTE, ""]
    ordered = sorted(demo.sidecars, key=lambda sc: (sc.service != MAIN_SERVICE, sc.instance))  # the caller first
    demo.peers = [(sc.instance, await observe.security(sc)) for sc in ordered]
    return [*peers.peers_panel(demo.peers, time.time()), ""]


async def watch(demo: Demo, load: LoadGenerator, duration: float | None, stop: asyncio.Event, tty: bool) -> int:
    for sc in demo.sidecars:
        sc.open()
    client = aioredis.from_url(demo.redis_url or "", socket_timeout=1)
    telemetry = observe.TelemetryView(client)
    demo.engines = EnginesView(client, observe.SERVICES)
    cp = grpc.aio.insecure_channel(demo.control_plane)
    last = time.monotonic()
    try:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            now = time.monotonic()
            demo.follow_timeline(now - load.started)
            shown = await frame(demo, load, telemetry, cp, now - last, duration)
            last = now
            text = dashboard.render(shown)
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
            elif len(demo.history["t"]) % 10 == 0:
                n = demo.engines.log.counts
                counts = ", ".join(f"{c} {n.get(c, 0)}" for c in (panels.PREDICTION, panels.ANOMALY,
                                                                   panels.ACTION, panels.TUNER))  # fmt: skip
                secured = ""
                if demo.secrets is not None:
                    accepted, refused, _ = peers.totals(demo.peers)
                    secured = f"; mTLS calls {accepted}, refused {refused}"
                sys.stdout.write(f"{text.splitlines()[0]}   [{shown.phase}] engine events: {counts}{secured}\n")
            sys.stdout.flush()
        await telemetry.refresh()
        await demo.engines.refresh()
        await peers_panel(demo)  # the final counts, for the report
        return telemetry.windows
    finally:
        await client.aclose()
        await cp.close()
        for sc in demo.sidecars:
            await sc.close()


async def drive(demo: Demo, duration: float | None, tty: bool) -> tuple[LoadGenerator, int]:
    load = LoadGenerator(demo.frontend_address, demo.period, demo.peak)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    load.started = time.monotonic()
    load_task = asyncio.create_task(load.run(duration if duration is not None else 10**9))
    load_task.add_done_callback(lambda _: stop.set())
    windows = await watch(demo, load, duration, stop, tty)
    load_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load_task
    return load, windows
