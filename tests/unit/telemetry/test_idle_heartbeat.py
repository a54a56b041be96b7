"""An idle sidecar publishes a heartbeat window every HEARTBEAT_EVERY seconds, not an empty window
every `window`; the heartbeat covers the idle span and sequence numbers have no gaps (issue 15).
No Redis is touched: roll() only fills the buffer."""

from __future__ import annotations

from apex.mesh.v1 import telemetry_pb2

from sidecar.core.call import Code
from sidecar.telemetry.publisher import HEARTBEAT_EVERY, Publisher
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.settings import Telemetry
from sidecar.telemetry.window import Identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pushed(p: Publisher) -> list[telemetry_pb2.TelemetryWindow]:
    return [telemetry_pb2.TelemetryWindow.FromString(raw) for raw in p.windows.items]


def test_idle_windows_become_one_heartbeat_per_period_covering_the_gap() -> None:
    clock = Clock()
    registry = Registry(clock=clock)
    series = registry.route("inbound", "r", "c")
    p = Publisher(Telemetry(redis_url="redis://127.0.0.1:1/0", window=1.0), registry, Identity("s", "s-1"), clock=clock)
    for _ in range(25):  # 25 idle seconds
        clock.now += 1.0
        p.roll()
    windows = pushed(p)
    # The first window, then one heartbeat per 10 s: before the fix, 25 empty windows.
    assert len(windows) == 1 + 25 // int(HEARTBEAT_EVERY)
    assert [w.sequence for w in windows] == [1, 2, 3]
    second = windows[1]
    assert second.window_start.ToSeconds() == 1001 and second.window.ToSeconds() == 10  # no hole
    # A call ends the quiet: its window goes out at once, covering the idle seconds before it.
    clock.now += 1.0
    series.start()
    series.finish(Code.OK, 0.01)
    clock.now += 1.0
    busy = p.roll()
    assert busy is not None and busy.sequence == 4
    assert sum(r.stats.calls for r in busy.routes) == 1
    assert busy.window_start.ToSeconds() == windows[-1].window_start.ToSeconds() + windows[-1].window.ToSeconds()
    # And stop always pushes the last window, idle or not.
    clock.now += 1.0
    assert p.roll(final=True) is not None
