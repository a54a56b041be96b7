"""The dashboard's engine panels (pure: documents and events in, text out).

- the forecast of the main service: its recent calls/s and the next values with their interval,
  as text sparklines on one scale (`apex forecast show` has the numbers, `--plot` a PNG);
- what the engines published on the events stream (apex.mesh.bus, `apex:events:{service}`),
  sorted by `category`: predictions, anomalies, preventive actions (forecaster), and the tuner's
  decisions (canary, promotion, rollback) with the reward before and after.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

BLOCKS = "▁▂▃▄▅▆▇█"
PREDICTION, ANOMALY, ACTION, TUNER, OTHER = "prediction", "anomaly", "action", "tuner", "other"
PREDICTION_KINDS = ("forecast.traffic_spike", "forecast.shortage", "forecast.degradation")


def sparkline(values: Sequence[float | None], lo: float, hi: float) -> str:
    """One block character per value on the scale [lo, hi]; a space for a missing value."""
    span = hi - lo
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(" ")
            continue
        level = 0 if span <= 0 else round((min(max(v, lo), hi) - lo) / span * (len(BLOCKS) - 1))
        out.append(BLOCKS[level])
    return "".join(out)


def squeeze(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most `width` values: the means of equal runs (None where a run has no value), newest last."""
    if len(values) <= width:
        return list(values)
    out: list[float | None] = []
    for i in range(width):
        run = [v for v in values[i * len(values) // width : (i + 1) * len(values) // width] if v is not None]
        out.append(sum(run) / len(run) if run else None)
    return out


def forecast_panel(service: str, doc: dict[str, Any] | None, now: float, width: int = 48) -> list[str]:
    """The forecast document (`apex forecast show`'s FORECAST) as sparklines: history, then the
    forecast's upper bound, mean and lower bound of its widest interval, on one scale."""
    if not doc or not doc.get("rate"):
        return [f"Forecast for {service}: no history yet (the engine forecasts once it has enough points)"]
    res = doc.get("resolution_s", 1)
    history: list[float | None] = list(doc["rate"][-width:])  # one character per point, as the forecast
    mean: list[float | None] = list(doc.get("mean") or [])
    if not mean:
        return [f"Forecast for {service}: {len(doc['rate'])} points so far, not enough to forecast yet"]
    levels = sorted(doc.get("lower") or {}, key=float)
    level = levels[-1] if levels else None
    lower = list(doc["lower"][level]) if level else mean
    upper = list(doc["upper"][level]) if level else mean
    shown = [v for v in (*history, *mean, *lower, *upper) if v is not None]
    lo, hi = min(shown, default=0.0), max(shown, default=1.0)
    ahead = len(mean) * res
    pad = " " * len(history)
    band = f"{float(level) * 100:.0f}%" if level else "   "
    last = next((v for v in reversed(doc["rate"]) if v is not None), None)
    updated = f", updated {max(0.0, now - doc['times'][-1] - res):.0f}s ago" if doc.get("times") else ""
    return [
        f"Forecast for {service} calls/s (model {doc.get('model', '?')}, every {res}s{updated}):",
        f"  {'last ' + str(len(history) * res) + 's':<{len(history)}} | next {ahead}s",
        f"  {pad} | {sparkline(squeeze(upper, width // 2), lo, hi)}  {band} upper {_num(upper[-1])}",
        f"  {sparkline(history, lo, hi)} | {sparkline(squeeze(mean, width // 2), lo, hi)}  mean      {_num(mean[-1])}",
        f"  {pad} | {sparkline(squeeze(lower, width // 2), lo, hi)}  {band} lower {_num(lower[-1])}",
        f"  now {_num(last)} -> in {ahead}s {_num(mean[-1])}"
        + (f" ({band} interval [{_num(lower[-1])}, {_num(upper[-1])}])" if level else "")
        + f"; scale {lo:.1f}..{hi:.1f} calls/s",
    ]


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


@dataclass(frozen=True, slots=True)
class Item:
    """One event as the dashboard and the report show it."""

    time: float
    service: str
    kind: str
    priority: str
    message: str
    correlation_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    instance: str = ""

    @property
    def category(self) -> str:
        if self.kind in PREDICTION_KINDS:
            return PREDICTION
        if self.kind == "forecast.anomaly":
            return ANOMALY
        if self.kind.startswith("forecast.action_"):
            return ACTION
        if self.kind.split(".", 1)[0] in ("tune", "tuner") or self.instance.startswith("tuner"):
            return TUNER
        return OTHER

    def line(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        a = self.attributes
        if self.category == PREDICTION:
            what = self.kind.split(".", 1)[1]
            return f"{stamp} {self.service} [{self.priority}] {what} (lead {a.get('lead_s', '?')}s): {self.message}"
        if self.category == ACTION:  # the message is the audit reason: the forecast, then "what old -> new (path)"
            status = "reverted" if self.kind.endswith("reverted") else a.get("status", "?")
            return f"{stamp} {self.service} {status}: {self.message}"
        if self.category == TUNER:  # apex.mesh.contract.tune: kind tune.<decision>, the evidence as attributes
            version = f" v{a['version']}" if a.get("version") else ""
            p = f", p={a['p_value']}" if a.get("p_value") else ""
            return f"{stamp} {self.service} {self.kind}{version}: {a.get('changes') or self.message}{reward_text(a)}{p}"
        return f"{stamp} {self.service} {self.message}"


def reward_text(attributes: dict[str, str]) -> str:
    """' (reward 0.81 -> 0.93)' from whatever reward attributes a tuner event carries."""
    before = next((attributes[k] for k in ("reward_before", "before") if k in attributes), None)
    after = next((attributes[k] for k in ("reward_after", "after") if k in attributes), None)
    if before is None and after is None:
        rewards = [f"{k} {v}" for k, v in sorted(attributes.items()) if "reward" in k]
        return f" ({', '.join(rewards)})" if rewards else ""
    return f" (reward {before or '-'} -> {after or '-'})"


@dataclass
class EngineLog:
    """The engines' recent events by category, bounded; `counts` counts every one seen."""

    keep: int = 200
    items: dict[str, deque[Item]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, items: Iterable[Item]) -> None:
        for item in items:
            self.items.setdefault(item.category, deque(maxlen=self.keep)).append(item)
            self.counts[item.category] = self.counts.get(item.category, 0) + 1

    def latest(self, category: str, n: int) -> list[Item]:
        return sorted(self.items.get(category, ()), key=lambda i: i.time)[-n:]


PANELS = (
    (PREDICTION, "Predictions (forecaster)"),
    (ANOMALY, "Anomalies raised (forecaster)"),
    (ACTION, "Preventive actions (forecaster), with their reasons"),
    (TUNER, "Tuner decisions (canary, promotion, rollback; reward before -> after)"),
)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def event_panels(log: EngineLog, n: int = 3, tuner_note: str = "", width: int = 160) -> list[str]:
    """Each category's count and its `n` newest events, one line each (clipped to `width`)."""
    lines: list[str] = []
    for category, title in PANELS:
        count = log.counts.get(category, 0)
        lines.append(f"{title}: {count}")
        shown = log.latest(category, n)
        lines.extend(clip(f"  {item.line()}", width) for item in shown)
        if not shown:
            lines.append(f"  {tuner_note or '(none yet)'}" if category == TUNER else "  (none yet)")
    return lines
