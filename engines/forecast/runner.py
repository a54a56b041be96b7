"""The forecasting engine's I/O: read telemetry windows, update each service's model once a
second, and apply preventive actions through the control plane (source FORECASTER).

Each closed second also carries the service's inbound latency merged over all its instances
(engines.ingest.latency, through the shared histogram codec): `Runner.latency[service]` keeps
the recent seconds' p50/p95/p99 for the models that will use them (issue 11).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from apex.mesh.v1 import control_pb2, telemetry_pb2

from engines.control.admin_client import AdminError, PolicyAdminClient
from engines.forecast import decide, model
from engines.forecast.series import RateSeries
from engines.ingest.consumer import StreamConsumer
from engines.ingest.latency import Latency, window_histogram
from engines.ingest.telemetry import TELEMETRY_PATTERN, decode_window, inbound_calls

log = logging.getLogger(__name__)
LATENCY_SECONDS = 3600  # closed seconds of latency quantiles kept per service


@dataclass
class Forecaster:
    """The per-service models and their last actions (no I/O)."""

    rule: decide.SpikeRule = field(default_factory=decide.SpikeRule)
    params: model.Params = field(default_factory=model.Params)
    states: dict[str, model.Holt] = field(default_factory=dict)
    last_action: dict[str, float] = field(default_factory=dict)

    def observe(self, service: str, calls: float) -> decide.Prediction:
        state = model.update(self.states.get(service), calls, self.params)
        self.states[service] = state
        return decide.predict(state, self.rule, self.params)


def cache_ttls(policy: control_pb2.PolicyRecord) -> dict[str, float]:
    """Name → TTL seconds of the policy's enforced cache rules (the ones a TTL change affects)."""
    ttls = {}
    for rule in policy.policy.cache:
        if (
            rule.name
            and rule.ttl.ToTimedelta().total_seconds() > 0
            and (not rule.HasField("enforced") or rule.enforced)
        ):
            ttls[rule.name] = rule.ttl.ToTimedelta().total_seconds()
    return ttls


class Runner:
    def __init__(
        self,
        redis_url: str,
        control_plane: str,
        listeners: frozenset[str] = frozenset({"inbound"}),
        rule: decide.SpikeRule | None = None,
        group: str = "forecaster",
        consumer: str | None = None,
        rediscover_every: float = 10.0,
    ) -> None:
        self.redis = aioredis.from_url(redis_url, socket_timeout=5)
        self.admin = PolicyAdminClient(control_plane, author="forecaster", source=control_pb2.FORECASTER)
        self.listeners = listeners
        self.series = RateSeries()
        self.forecaster = Forecaster(rule=rule or decide.SpikeRule())
        name = consumer or f"{socket.gethostname()}-{id(self):x}"
        self.consumer: StreamConsumer[telemetry_pb2.TelemetryWindow] = StreamConsumer(
            self.redis, TELEMETRY_PATTERN, group, name, decode_window
        )
        self.actions_applied = 0
        self.rediscover_every = rediscover_every  # seconds between looking for new streams / dead peers
        self.latency: dict[str, deque[tuple[int, Latency]]] = {}

    async def step(self, now: float) -> None:
        """Read what arrived, close finished seconds, decide and act."""
        entries = await self.consumer.read()
        for entry in entries:
            w = entry.value
            calls = inbound_calls(w, self.listeners)
            latency = window_histogram(w, self.listeners)
            self.series.add(w.service, w.instance, w.sequence, w.window_start.seconds, calls, latency)
        await self.consumer.ack(entries)
        for point in self.series.close(now):
            track = self.latency.setdefault(point.service, deque(maxlen=LATENCY_SECONDS))
            track.append((point.second, Latency.of(point.latency)))
            prediction = self.forecaster.observe(point.service, point.calls)
            await self._act(point.service, prediction, time.monotonic())

    async def _act(self, service: str, prediction: decide.Prediction, mono: float) -> None:
        f = self.forecaster
        if prediction.current < f.rule.min_rate or prediction.ratio < f.rule.ratio:
            return  # cheap exit before asking the control plane anything
        if service in f.last_action and mono - f.last_action[service] < f.rule.cooldown:
            return
        try:
            record = await self.admin.get(service)
        except AdminError as exc:
            log.info("no policy to act on for %s: %s", service, exc.details)
            f.last_action[service] = mono  # do not ask again every second
            return
        actions = decide.spike_actions(
            service, prediction, cache_ttls(record), mono, f.last_action.get(service), f.rule
        )
        f.last_action[service] = mono
        version = record.version
        for action in actions:
            try:
                record = await self.admin.patch(service, action.path, action.value, reason=action.reason,
                                                expected_version=version)  # fmt: skip
            except AdminError as exc:
                log.warning("action %s=%s on %s refused: %s", action.path, action.value, service, exc.details)
                return
            version = record.version
            self.actions_applied += 1
            log.info("%s: %s=%s (version %d): %s", service, action.path, action.value, version, action.reason)

    async def run(self, stop: asyncio.Event) -> None:
        last_recover = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() - last_recover > self.rediscover_every:
                    last_recover = time.monotonic()
                    await self.consumer.discover()
                    await self.consumer.ack(await self.consumer.recover())  # a dead peer's windows: skip, not replay
                await self.step(time.time())
            except (OSError, aioredis.RedisError) as exc:
                log.warning("telemetry read failed (%s); retrying", exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def close(self) -> None:
        await self.admin.close()
        await self.redis.aclose()
