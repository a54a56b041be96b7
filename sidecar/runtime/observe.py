"""The sidecar's observability parts in one place: registry, tracer, /metrics server, publisher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from apex.mesh.v1 import telemetry_pb2

from sidecar.admin.access import AccessGuard
from sidecar.admin.metrics_http import MetricsServer
from sidecar.layers.cache.state import CacheState
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.model import Node
from sidecar.telemetry import prometheus, tracing
from sidecar.telemetry.registry import Priority, Registry
from sidecar.telemetry.settings import Observability
from sidecar.telemetry.window import Identity

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from sidecar.security.tls import ListenerTls
    from sidecar.telemetry.publisher import Publisher

log = logging.getLogger(__name__)


def cache_counters(cache: CacheState, registry: Registry) -> Callable[[], None]:
    """A registry refresher copying the cache's counters (per cluster, named cache_<counter>) in."""

    def refresh() -> None:
        registry.pulled_cache = cache.cluster_totals()

    return refresh


class Observer:
    """`metrics_guard` and `metrics_tls`: who may scrape /metrics (docs/security.md, "The metrics listener")."""

    def __init__(
        self,
        settings: Observability,
        node: Node,
        metrics_guard: AccessGuard | None = None,
        metrics_tls: ListenerTls | None = None,
    ) -> None:
        self.settings = settings
        self.registry = Registry(time.time, max_events=settings.telemetry.buffer_events)
        self.tracer: tracing.Tracing | None = None
        self._provider: TracerProvider | None = None
        self.spans: tracing.CountingBatchSpanProcessor | None = None
        if settings.tracing.enabled:
            self._provider, self.spans, self.tracer = tracing.provider(settings.tracing, node.service, node.instance)
        self.publisher: Publisher | None = None
        if settings.telemetry.redis_url:
            who = Identity(node.service, node.instance, node.zone)
            from sidecar.telemetry.publisher import Publisher  # redis only when publishing (~12 MB RSS)

            self.publisher = Publisher(settings.telemetry, self.registry, who)
        self.metrics: MetricsServer | None = None
        if settings.metrics_address:
            self.metrics = MetricsServer(
                settings.metrics_address, self.render, prometheus.CONTENT_TYPE,
                self.render_openmetrics, prometheus.OPENMETRICS_CONTENT_TYPE, metrics_guard, metrics_tls,
            )  # fmt: skip

    async def start(self) -> None:
        if self.metrics is not None:
            await self.metrics.start()
            scheme = "http" if self.metrics.tls is None else "https"
            log.info("metrics on %s://%s/metrics", scheme, self.metrics.bound)
        if self.publisher is not None:
            self.publisher.start()
            key, window = self.publisher.telemetry_key, self.settings.telemetry.window
            log.info("publishing telemetry to %s every %ss", key, window)

    async def stop(self) -> None:
        if self.publisher is not None:
            await self.publisher.stop()
        if self._provider is not None:
            provider = self._provider
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(provider.shutdown), 10.0)
        if self.metrics is not None:
            await self.metrics.stop()

    def stats(self) -> telemetry_pb2.TelemetryStats:
        out = telemetry_pb2.TelemetryStats(tracing=self.tracer is not None)
        if self.spans is not None:
            out.spans_dropped, out.spans_ended = self.spans.dropped, self.spans.ended
        pub = self.publisher
        if pub is not None:
            out.publishing = True
            out.connected = pub.stats.connected
            out.windows_published = pub.stats.windows_published
            out.windows_dropped = pub.windows.dropped
            out.windows_buffered = len(pub.windows)
            out.events_published = pub.stats.events_published
            out.events_dropped = pub.events.dropped + self.registry.events_dropped
            out.publish_errors = pub.stats.publish_errors
            out.reconnects = pub.stats.reconnects
        return out

    def render(self) -> str:
        return prometheus.render(self.registry, self._extra())

    def render_openmetrics(self) -> str:
        return prometheus.render(self.registry, self._extra(), openmetrics=True)

    def _extra(self) -> dict[str, tuple[str, str, float]]:
        s = self.stats()
        extra = {
            "apex_telemetry_windows_published_total": ("counter", "Telemetry windows written to Redis.",
                                                       float(s.windows_published)),
            "apex_telemetry_windows_dropped_total": ("counter", "Telemetry windows dropped while Redis was down.",
                                                     float(s.windows_dropped)),
            "apex_telemetry_publish_errors_total": ("counter", "Failed Redis writes.", float(s.publish_errors)),
            "apex_trace_spans_dropped_total": ("counter", "Spans dropped by the full export queue.",
                                               float(s.spans_dropped)),
        }  # fmt: skip
        return extra


class ClusterWatch:
    """A registry refresher for cluster runtimes (caps, outlier ejection, health checks).

    At each window roll or scrape it copies their counters and states into the registry, and
    turns ejection changes seen since the last look into events (endpoint_ejected HIGH,
    endpoint_readmitted LOW) — nothing on the data path, at most one window late.
    """

    def __init__(self, clusters: Mapping[str, ClusterRuntime], registry: Registry) -> None:
        self._clusters = clusters
        self._registry = registry
        self._seen: dict[tuple[str, str], tuple[str, int]] = {}

    def __call__(self) -> None:
        reg = self._registry
        for name, runtime in list(self._clusters.items()):
            reg.pulled_cluster[name] = runtime.counter_totals()
            reg.cluster_gauges[name] = runtime.gauges()
            reg.cluster_states.setdefault(name, {})["panic"] = "on" if runtime.panic else "off"
            for address in list(runtime.loads):
                reg.pulled_endpoint[(name, address)] = runtime.endpoint_counter_totals(address)
            outlier = runtime.outlier
            if outlier is not None:
                for address, ep in list(outlier.endpoints.items()):
                    key = (name, address)
                    state = ep.state.value
                    reg.endpoint_states.setdefault(key, {})["outlier"] = state
                    self._events(key, state, ep.times_ejected)
            if runtime.health is not None:
                for address in runtime.health.down:
                    reg.endpoint_states.setdefault((name, address), {})["health"] = "not_serving"

    def _events(self, key: tuple[str, str], state: str, times: int) -> None:
        before_state, before_times = self._seen.get(key, ("active", 0))
        self._seen[key] = (state, times)
        cluster, address = key
        if times > before_times:
            self._registry.event(
                "endpoint_ejected", Priority.HIGH, f"{address} ejected from {cluster} (ejection #{times})",
                correlation_id=f"{cluster}/{address}/{times}", cluster=cluster, endpoint=address,
            )  # fmt: skip
        elif state == "active" and before_state != "active":
            self._registry.event(
                "endpoint_readmitted", Priority.LOW, f"{address} readmitted to {cluster}",
                correlation_id=f"{cluster}/{address}/{times}", cluster=cluster, endpoint=address,
            )  # fmt: skip
