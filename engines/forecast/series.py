"""Per-service call-rate and latency series built from telemetry windows of many instances (pure).

Windows from every instance of a service are summed by their start second: calls add up, and
latency histograms merge through the shared codec (apex.mesh.contract.histogram), so each closed
second carries the service's latency over all its instances. A second is closed — handed to the
model — once `lag` seconds have passed, so late windows from slower instances still count;
seconds with no window at all are zeros (and an empty histogram). Windows are deduplicated on
(service, instance, sequence), since a recovered consumer may read an entry twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import NamedTuple

from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import Histogram


class Point(NamedTuple):
    """One closed second of one service."""

    service: str
    second: int
    calls: float
    latency: Histogram


@dataclass
class _Open:
    calls: float = 0.0
    latency: Histogram = field(default_factory=Histogram)


@dataclass
class _Service:
    open: dict[int, _Open] = field(default_factory=dict)  # second -> what arrived so far
    next_second: int | None = None  # the first second not yet closed


class RateSeries:
    def __init__(self, lag: float = 3.0, dedupe: int = 100_000) -> None:
        self.lag = lag
        self._services: dict[str, _Service] = {}
        self._seen: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self._dedupe = dedupe
        self.late = 0  # windows for seconds already closed (ignored)
        self.duplicates = 0

    def add(
        self, service: str, instance: str, sequence: int, second: int, calls: float, latency: Histogram | None = None
    ) -> None:
        key = (service, instance, sequence)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen[key] = None
        if len(self._seen) > self._dedupe:
            self._seen.popitem(last=False)
        s = self._services.setdefault(service, _Service())
        if s.next_second is not None and second < s.next_second:
            self.late += 1
            return
        point = s.open.setdefault(second, _Open())
        point.calls += calls
        if latency is not None and latency.count:
            point.latency = histogram.merge([point.latency, latency])  # any layouts: the coarser one wins
        if s.next_second is None:
            s.next_second = second

    def close(self, now: float) -> list[Point]:
        """A Point for every second older than `now - lag`, per service, in order."""
        closed: list[Point] = []
        limit = int(now - self.lag)
        for name, s in sorted(self._services.items()):
            if s.next_second is None:
                continue
            while s.next_second < limit:
                point = s.open.pop(s.next_second, None) or _Open()
                closed.append(Point(name, s.next_second, point.calls, point.latency))
                s.next_second += 1
        return closed
