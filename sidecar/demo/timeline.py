"""The demo's script as data (pure): the phases of its compressed day and when the incident happens.

A day lasts `period` seconds and repeats (sidecar.demo.load.daily_rate gives its calls/s): night
at a fifth of the peak until 20% of the day, a morning ramp to the midday peak (40-60%), an
afternoon decline, an evening shoulder around 80%, night again from 90%. The incident — one
catalog instance (catalog-2) fails a share of its calls and answers the rest slower — starts
`incident_at` seconds after the load starts and lasts `incident_for` seconds (0: no incident).
"""

from __future__ import annotations

from dataclasses import dataclass

# (start as a fraction of the day, name), in order; each phase lasts until the next one starts.
PHASES = (
    (0.0, "night"),
    (0.2, "morning ramp"),
    (0.4, "midday peak"),
    (0.6, "afternoon"),
    (0.75, "evening shoulder"),
    (0.9, "night"),
)
INCIDENT = "catalog-2 flaky and slow"


@dataclass(frozen=True, slots=True)
class Timeline:
    period: float
    incident_at: float
    incident_for: float

    def __post_init__(self) -> None:
        if self.period <= 0:
            raise ValueError(f"the period must be > 0 seconds, got {self.period:g}")
        if self.incident_at < 0 or self.incident_for < 0:
            raise ValueError(f"the incident's start ({self.incident_at:g}) and length ({self.incident_for:g}) "
                             "must be >= 0 seconds")  # fmt: skip

    def phase(self, t: float) -> str:
        """The day's phase at `t` seconds into the load."""
        fraction = (t % self.period) / self.period
        return [name for start, name in PHASES if start <= fraction][-1]

    def day(self, t: float) -> int:
        return int(t // self.period) + 1

    def incident(self, t: float) -> bool:
        return self.incident_for > 0 and self.incident_at <= t < self.incident_at + self.incident_for

    def label(self, t: float) -> str:
        """'day 2, morning ramp' (+ ', INCIDENT: ...' while it lasts)."""
        text = f"day {self.day(t)}, {self.phase(t)}"
        return text + (f", INCIDENT: {INCIDENT}" if self.incident(t) else "")

    def milestones(self, until: float) -> list[tuple[float, str]]:
        """Every phase start and the incident's start and end before `until` seconds, in time order."""
        out: list[tuple[float, str]] = []
        for d in range(int(until // self.period) + 1):
            for start, name in PHASES:
                t = (d + start) * self.period
                if t < until and not (d and start == 0):  # a day's first night began the day before
                    out.append((t, f"day {d + 1}: {name}"))
        if self.incident_for > 0:
            for t, text in ((self.incident_at, f"incident starts: {INCIDENT}"),
                            (self.incident_at + self.incident_for, "incident ends")):  # fmt: skip
                if t < until:
                    out.append((t, text))
        return sorted(out, key=lambda item: item[0])
