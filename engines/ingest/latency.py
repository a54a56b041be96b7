"""Latency from telemetry (pure): merge the histograms of many windows and instances per service and route.

Every sidecar publishes per-route latency histograms in the contract's fixed layout
(`apex.mesh.contract.histogram`), so the engine adds counts index-wise — over windows, over
instances — and reads quantiles from the sum: each within `histogram.RELATIVE_ERROR` (4.4%) of
the exact quantile of all the calls merged, exactly as one sidecar would read its own.
Windows should be deduplicated first (on instance and sequence): a window read twice would
count its calls twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from apex.mesh.contract import histogram
from apex.mesh.contract.histogram import Histogram
from apex.mesh.v1 import telemetry_pb2

RouteKey = tuple[str, str, str]  # (service, listener, route)
QUANTILES = (50.0, 95.0, 99.0)
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Latency:
    """Quantiles of one merged histogram, in seconds; all 0.0 when it holds no call."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, h: Histogram) -> Latency:
        q = h.quantiles(QUANTILES)
        mean = h.sum / h.count if h.count else 0.0
        return cls(h.count, q[50.0], q[95.0], q[99.0], h.max, mean)


def _selected(route: telemetry_pb2.RouteAggregate, listeners: frozenset[str] | None) -> bool:
    return (listeners is None or route.listener in listeners) and route.stats.latency.count > 0


def route_histograms(
    windows: Iterable[telemetry_pb2.TelemetryWindow], listeners: frozenset[str] | None = None
) -> dict[RouteKey, Histogram]:
    """(service, listener, route) -> the merged latency of that route over all `windows` (all instances).

    Raises HistogramError on a histogram the contract rejects (entries.decode_window has
    already checked windows that came through the consumer).
    """
    out: dict[RouteKey, Histogram] = {}
    for w in windows:
        for r in w.routes:
            if not _selected(r, listeners):
                continue
            key = (w.service, r.listener, r.route)
            part = histogram.decode(r.stats.latency)
            if key in out:
                out[key] = histogram.merge([out[key], part])
            else:
                out[key] = part
    return out


def service_histograms(
    windows: Iterable[telemetry_pb2.TelemetryWindow], listeners: frozenset[str] | None = None
) -> dict[str, Histogram]:
    """service -> the merged latency of all its routes on `listeners` (all if None) over all `windows`."""
    by_service: dict[str, list[Histogram]] = {}
    for (service, _, _), h in route_histograms(windows, listeners).items():
        by_service.setdefault(service, []).append(h)
    return {service: histogram.merge(parts) for service, parts in by_service.items()}


def window_histogram(window: telemetry_pb2.TelemetryWindow, listeners: frozenset[str] | None = None) -> Histogram:
    """One window's latency over its routes on `listeners` (e.g. the instance's inbound calls)."""
    return histogram.merge(histogram.decode(r.stats.latency) for r in window.routes if _selected(r, listeners))


def latencies(histograms: Mapping[K, Histogram]) -> dict[K, Latency]:
    """The quantiles of each merged histogram."""
    return {key: Latency.of(h) for key, h in histograms.items()}
