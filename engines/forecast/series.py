"""Per-service call-rate series built from telemetry windows of many instances (pure).

Windows from every instance of a service are summed by their start second. A second is
closed — handed to the model — once `lag` seconds have passed, so late windows from slower
instances still count; seconds with no window at all are zeros. Windows are deduplicated on
(service, instance, sequence), since a recovered consumer may read an entry twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class _Service:
    open: dict[int, float] = field(default_factory=dict)  # second -> calls so far
    next_second: int | None = None  # the first second not yet closed


class RateSeries:
    def __init__(self, lag: float = 3.0, dedupe: int = 100_000) -> None:
        self.lag = lag
        self._services: dict[str, _Service] = {}
        self._seen: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self._dedupe = dedupe
        self.late = 0  # windows for seconds already closed (ignored)
        self.duplicates = 0

    def add(self, service: str, instance: str, sequence: int, second: int, calls: float) -> None:
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
        s.open[second] = s.open.get(second, 0.0) + calls
        if s.next_second is None:
            s.next_second = second

    def close(self, now: float) -> list[tuple[str, int, float]]:
        """(service, second, calls) for every second older than `now - lag`, in order."""
        closed: list[tuple[str, int, float]] = []
        limit = int(now - self.lag)
        for name, s in sorted(self._services.items()):
            if s.next_second is None:
                continue
            while s.next_second < limit:
                closed.append((name, s.next_second, s.open.pop(s.next_second, 0.0)))
                s.next_second += 1
        return closed
