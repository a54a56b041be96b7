"""`apex forecast show --plot FILE`: what the forecasting engine stored for a service, as a PNG.

Top: the calls/s history, the forecast's mean and its prediction intervals (shaded), and the
rate anomalies marked; bottom: the p99 latency history with its anomalies marked. Time runs in
seconds from the forecast's origin (the end of the history). Drawn with matplotlib's Agg canvas
(no display, no pyplot state), from the documents `apex forecaster` stores
(apex.mesh.contract.forecast: FORECAST and ANOMALIES).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100  # a 1000 x 600 PNG


class PlotError(ValueError):
    """Nothing (or nothing usable) to plot; the message says why."""


@dataclass(frozen=True, slots=True)
class Drawn:
    """What the PNG shows (so a caller, or a test, knows without reading pixels)."""

    history: int  # points of history (calls/s) drawn
    forecast: int  # forecast points drawn
    intervals: tuple[str, ...]  # interval levels shaded, e.g. ("0.8", "0.95")
    anomalies: int  # anomalies marked
    size: tuple[int, int]  # pixels (width, height)


def _floats(values: Any, what: str) -> list[float]:
    if not isinstance(values, list):
        raise PlotError(f"{what} is not a list of numbers")
    try:
        return [math.nan if v is None else float(v) for v in values]
    except (TypeError, ValueError):
        raise PlotError(f"{what} holds a value that is not a number") from None


def plot(path: str, service: str, state: dict[str, Any]) -> Drawn:
    """Write the PNG of `service`'s stored state to `path`; PlotError when there is no history."""
    fc = state.get("forecast") or {}
    if not fc.get("rate") or not fc.get("times"):
        raise PlotError(f"the engine has stored no history for {service} yet: nothing to plot")
    res = float(fc.get("resolution_s") or 1)
    times = _floats(fc["times"], "forecast.times")
    rate = _floats(fc["rate"], "forecast.rate")
    p99 = _floats(fc.get("p99") or [], "forecast.p99")
    if len(rate) != len(times) or (p99 and len(p99) != len(times)):
        raise PlotError("forecast.times, forecast.rate and forecast.p99 have different lengths")
    origin = times[-1] + res  # the forecast starts after the last (closed) point
    past = [t - origin for t in times]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.plot(past, rate, color="tab:blue", label="calls/s")
    demand = _floats(fc.get("demand") or [], "forecast.demand")  # what the forecast is of: calls arriving
    if demand and len(demand) != len(times):
        raise PlotError("forecast.times and forecast.demand have different lengths")
    if demand:
        top.plot(past, demand, color="tab:green", linewidth=0.8, linestyle="--", label="demand (calls/s arriving)")
    mean = _floats(fc.get("mean") or [], "forecast.mean")
    ahead = [i * res for i in range(len(mean))]  # forecast point i is the row starting at origin + i*res
    levels: list[str] = []
    for level in sorted(fc.get("lower") or {}, key=float, reverse=True):  # widest first, narrower on top
        lo = _floats(fc["lower"][level], f"forecast.lower[{level}]")
        hi = _floats((fc.get("upper") or {}).get(level, []), f"forecast.upper[{level}]")
        if len(lo) != len(mean) or len(hi) != len(mean):
            raise PlotError(f"the {level} interval does not cover the forecast's {len(mean)} points")
        top.fill_between(ahead, lo, hi, color="tab:orange", alpha=0.15 + 0.1 * len(levels),
                         label=f"{float(level) * 100:.0f}% interval")  # fmt: skip
        levels.append(level)
    if mean:
        top.plot(ahead, mean, color="tab:orange", label=f"forecast ({fc.get('model', '?')})")
    marked = 0
    for a in state.get("anomalies") or []:
        metric, when, value = a.get("metric"), a.get("time"), a.get("value")
        if not isinstance(when, int | float) or not isinstance(value, int | float):
            continue
        x = float(when) - res - origin  # the detector saw the row when it closed
        if metric == "rate":
            top.plot([x], [value], "o", color="red", markersize=8, label="anomaly" if not marked else None)
        elif metric == "p99":
            bottom.plot([x], [value * 1e3], "o", color="red", markersize=8)
        else:
            top.axvline(x, color="red", alpha=0.4)
        marked += 1
    if p99:
        bottom.plot(past, [v * 1e3 for v in p99], color="tab:purple", label="p99 ms")
    for ax in (top, bottom):
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    top.set_ylabel("calls/s")
    bottom.set_ylabel("p99 (ms)")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(origin))
    bottom.set_xlabel(f"seconds from the forecast's origin ({stamp}), one point every {res:g}s")
    periods = fc.get("periods") or []
    top.set_title(f"{service}: calls/s, forecast and anomalies (model {fc.get('model', '-')}, periods {periods})")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return Drawn(len(rate), len(mean), tuple(levels), marked, (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI)))
