"""The forecasting engine's I/O: telemetry windows in, series snapshots, events, show-state and
preventive policy changes (PolicyAdmin, source FORECASTER) out. Decisions live in
engines.forecast.{engine,predict,actions}; this module only reads, writes and keeps time.

Exactly once in effect: a window's entry is acknowledged only after a snapshot holding the
seconds it counted in is stored (`apex.mesh.contract.forecast.snapshot_key`). A restarted engine
restores the snapshot, then re-reads its own pending entries (and claims a dead peer's):
windows of seconds the snapshot already holds are ignored, the others count — none twice
(deduplicated on instance and sequence), none lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from apex.mesh.bus import EventPublisher
from apex.mesh.bus.connect import connect
from apex.mesh.contract import forecast as keys
from apex.mesh.v1 import control_pb2, telemetry_pb2

from engines.control.admin_client import AdminError, Conflict, PolicyAdminClient
from engines.forecast import actions, publish
from engines.forecast.engine import Detector, Engine, EngineConfig
from engines.forecast.predict import Prediction
from engines.ingest import loop
from engines.ingest.consumer import Entry, StreamConsumer
from engines.ingest.loop import Every, Held
from engines.ingest.samples import CLUSTER_SEP, Seconds, window_samples
from engines.ingest.telemetry import TELEMETRY_PATTERN, decode_window

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 2  # a change that lost a race with another writer is tried again on the newer version
Window: TypeAlias = telemetry_pb2.TelemetryWindow
EVENTS_MAXLEN = 10_000


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    group: str = "forecaster"
    consumer: str = field(default_factory=socket.gethostname)  # stable: a restart finds its own pending entries
    listeners: frozenset[str] = frozenset({"inbound"})
    lag: float = 3.0  # seconds a second stays open for late windows
    evaluate_every: float = 10.0
    snapshot_every: float = 30.0
    rediscover_every: float = 10.0
    claim_idle_ms: int = 30_000
    dry_run: bool = False
    engine: EngineConfig = field(default_factory=EngineConfig)
    actions: actions.ActionRules = field(default_factory=actions.ActionRules)


class Runner:
    def __init__(
        self, redis_url: str, control_plane: str, config: RunnerConfig | None = None,
        detector: Any = None,  # None: the engine's default (engines.anomaly, seasonal)
        token: str | None = None,  # the control-plane token (None: $APEX_TOKEN_FILE / $APEX_TOKEN)
    ) -> None:  # fmt: skip
        self.config = c = config or RunnerConfig()
        self.redis = connect(redis_url, socket_timeout=5)  # redis+cluster://: a Redis Cluster client
        self.admin = PolicyAdminClient(control_plane, author="forecaster", source=control_pb2.FORECASTER, token=token)
        self.consumer: StreamConsumer[Window] = StreamConsumer(
            self.redis, TELEMETRY_PATTERN, c.group, c.consumer, decode_window, claim_idle_ms=c.claim_idle_ms
        )
        self.seconds = Seconds(lag=c.lag)
        self.engine = Engine(c.engine, detector)
        self.planner = actions.Planner(c.actions)
        self.held: Held[Window] = Held()  # read, counted, not yet acknowledged
        self.cids: dict[tuple[str, str], str] = {}  # open prediction episodes -> correlation id
        self.instances: dict[str, dict[str, int]] = {}  # service -> instance -> last second seen
        self.actions_applied = 0
        self.events_published = 0
        self.windows = 0
        self.lag: dict[str, Any] = {}
        self._evaluate_every = Every(c.evaluate_every, last=0.0)
        self._snapshot_every = Every(c.snapshot_every, last=0.0)
        self._anomalies_sent: dict[str, int] = {}
        self.publishers: dict[str, EventPublisher] = {}

    # --- telemetry in --------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the snapshot, then count this consumer's pending entries (a restart) again."""
        stored: Any = await self.redis.hgetall(keys.snapshot_key(self.config.group))
        for raw_key, data in stored.items():
            key = _s(raw_key)
            self.engine.restore(key, data)
            last = self.engine.series[key].last_second
            if last is not None:
                self.seconds.resume(key, last + 1)
        await self.consumer.discover()
        pending = await self.consumer.pending()
        self.ingest(pending)
        log.info("restored %d series; %d pending entries of %s read again", len(stored), len(pending),
                 self.config.consumer)  # fmt: skip

    def ingest(self, entries: list[Entry[Window]]) -> None:
        for entry in entries:
            w = entry.value
            second = w.window_start.seconds
            self.held.add(entry, w.service, second)
            if self.seconds.seen(w.service, w.instance, w.sequence):
                continue
            self.windows += 1
            self.instances.setdefault(w.service, {})[w.instance] = second
            for key, sample in window_samples(w, self.config.listeners).items():
                self.seconds.add(key, second, sample)

    async def step(self, now: float) -> None:
        """Read what arrived, close finished seconds, evaluate, act, snapshot — as due."""
        self.ingest(await self.consumer.read())
        self.engine.observe(self.seconds.close(now))
        if self._evaluate_every.due(now):
            for service in self.engine.services():
                await self._evaluate(service, now)
        if self._snapshot_every.due(now):
            await self.snapshot()

    async def snapshot(self) -> None:
        """Store every series' rings, then acknowledge the entries whose seconds they hold."""
        series = self.engine.series
        if series:
            await self.redis.hset(keys.snapshot_key(self.config.group),
                                  mapping={k: m.to_bytes() for k, m in series.items()})  # fmt: skip

        def saved(service: str, second: int) -> bool:
            last = series[service].last_second if service in series else None
            return last is not None and second <= last

        await self.consumer.ack(self.held.release(saved))

    async def measure_lag(self, now: float) -> dict[str, Any]:
        """Pending entries and the newest entry's age per stream (logged and stored for `show`)."""
        out: dict[str, Any] = {"time": now, "consumer": self.config.consumer, "held": len(self.held),
                               "duplicates": self.seconds.duplicates, "late": self.seconds.late,
                               "dead_lettered": self.consumer.dead_lettered, "streams": {}}  # fmt: skip
        total = 0
        for stream in sorted(self.consumer.streams):
            with contextlib.suppress(aioredis.ResponseError):
                groups: Any = await self.redis.xinfo_groups(stream)
                info: Any = await self.redis.xinfo_stream(stream)
                g: Any = next((g for g in groups if _s(g.get("name")) == self.config.group), {})
                newest = _s(info.get("last-generated-id") or "0-0")
                age = max(0.0, now - int(newest.split("-")[0]) / 1000) if newest != "0-0" else None
                pending, behind = int(g.get("pending", 0)), g.get("lag")
                total += pending
                out["streams"][stream] = {"pending": pending, "lag": behind, "newest_age_s": age}
        out["pending"] = total
        self.lag = out
        await self.redis.hset(keys.lag_key(self.config.group), keys.LAG, json.dumps(out))
        ages = [v["newest_age_s"] for v in out["streams"].values() if v["newest_age_s"] is not None]
        out["newest_age_s"] = min(ages) if ages else None
        log.info("consumer lag: %d pending, newest entry %s s old, %d held, %d duplicates, %d late", total,
                 "-" if not ages else f"{min(ages):.1f}", len(self.held), self.seconds.duplicates,
                 self.seconds.late)  # fmt: skip
        return out

    # --- predictions, events, actions -----------------------------------------------------

    async def _evaluate(self, service: str, now: float) -> None:
        ev = self.engine.evaluate(service, now)
        current: dict[tuple[str, str], Prediction] = {}
        for p in ev.predictions:
            current.setdefault((service, p.kind), p)
        docs = []
        for key, p in current.items():
            cid = self.cids.get(key)
            if cid is None:
                cid = self.cids[key] = f"{p.kind}:{service}:{int(now)}"
                await self._event(service, publish.prediction_event(p, cid))
                log.warning("prediction %s: %s", cid, p.message)
            docs.append(publish.prediction_doc(p, cid))
            await self._prevent(service, p, cid, now)
        for key in [k for k in self.cids if k[0] == service and k not in current]:
            del self.cids[key]  # the episode's prediction is gone; its actions revert after hold_s
        await self._reverts(service, now)
        await self._anomalies(service)
        state = {keys.FORECAST: ev.forecast, keys.PROFILE: ev.profile, keys.PREDICTIONS: docs, keys.UPDATED: now}
        await self.redis.hset(keys.state_key(service), mapping={k: json.dumps(v) for k, v in state.items()})

    async def _prevent(self, service: str, p: Prediction, cid: str, now: float) -> None:
        if (service, p.kind) in self.planner.episodes:
            self.planner.plan(service, p, actions.Facts(), now)  # renews the episode, changes nothing
            return
        record = await self._policy(service)
        if record is None:
            return
        f = actions.facts(record.policy, self.config.listeners)
        caps = [c for c in f.caps.values() if c]
        if caps:
            self.engine.concurrency[service] = float(sum(caps)) * max(1, len(self.instances.get(service, {})))
        degrading = p.key.split(CLUSTER_SEP, 1)[1] if CLUSTER_SEP in p.key else ""
        todo = self.planner.plan(service, p, f, now, degrading, cid)
        await self._apply(service, todo, record.version, now, f)

    async def _reverts(self, service: str, now: float) -> None:
        for svc, kind in self.planner.due(now):
            if svc != service:
                continue
            record = await self._policy(service)
            current = actions.facts(record.policy, self.config.listeners) if record is not None else actions.Facts()
            todo = self.planner.reverts(service, kind, current)
            if record is not None:
                await self._apply(service, todo, record.version, now, current)

    async def _policy(self, service: str) -> control_pb2.PolicyRecord | None:
        try:
            return await self.admin.get(service)
        except AdminError as exc:
            log.info("no policy to act on for %s: %s", service, exc.details)
            return None

    async def _apply(
        self, service: str, todo: list[actions.Action], version: int, now: float, planned: actions.Facts
    ) -> None:
        """Store each change on top of `version` (the policy the actions were planned from, `planned`).
        Another writer storing a version first (the tuner, an operator) is a conflict: the change is
        retried on the newer version if the field it touches still holds what it was planned from,
        and refused if someone else changed that field since."""
        for a in todo:
            status, detail = ("dry-run", "") if self.config.dry_run else ("applied", "")
            if not self.config.dry_run:
                for attempt in range(CONFLICT_RETRIES + 1):
                    try:
                        record = await self.admin.patch(
                            service, a.path, a.value, reason=a.reason, expected_version=version
                        )
                        version, detail = record.version, f"version {record.version}"
                        status = "applied"
                        self.actions_applied += 1
                        break
                    except Conflict as exc:
                        status, detail = "refused", exc.details
                        newer = await self._policy(service) if attempt < CONFLICT_RETRIES else None
                        if newer is None:
                            break
                        now_value = actions.facts(newer.policy, self.config.listeners).value(a.path)
                        if now_value != planned.value(a.path):
                            detail = f"{a.path} was changed by another writer since (now {now_value})"
                            break
                        version = newer.version  # the field is as planned: try again on top of theirs
                    except AdminError as exc:
                        status, detail = "refused", exc.details
                        break
            log.warning("action %s %s: %s=%s (%s): %s", status, service, a.path, a.value, detail, a.reason)
            await self._event(service, publish.action_event(a, status, detail))
            key = keys.state_key(service)
            await self.redis.lpush(key + ":" + keys.ACTIONS, json.dumps(publish.action_doc(a, status, now, detail)))
            await self.redis.ltrim(key + ":" + keys.ACTIONS, 0, keys.RECENT - 1)
            if status == "refused":
                return

    async def _anomalies(self, service: str) -> None:
        recent = list(self.engine.anomalies.get(service, ()))
        sent = self._anomalies_sent.get(service, 0)
        new = [a for a in recent if a["time"] > sent]
        for a in new:
            await self._event(service, publish.anomaly_event(a))
        if new:
            self._anomalies_sent[service] = int(max(a["time"] for a in new))
        await self.redis.hset(keys.state_key(service), keys.ANOMALIES, json.dumps(recent[-keys.RECENT :]))

    async def _event(self, service: str, out: publish.Out) -> None:
        """Publish through apex.mesh.bus (buffered, in order, while Redis is unreachable)."""
        pub = self.publishers.get(service)
        if pub is None:
            pub = self.publishers[service] = EventPublisher(self.redis, service, publish.INSTANCE, maxlen=EVENTS_MAXLEN)
        await pub.publish(out.kind, priority=out.priority, correlation_id=out.correlation_id, message=out.message,
                          attributes=out.attributes)  # fmt: skip
        self.events_published += 1

    # --- the loop ---------------------------------------------------------------------------

    async def rediscover(self, now: float) -> None:
        """New streams; a dead peer's windows (counted, not skipped); the consumer lag."""
        await self.consumer.discover()
        self.ingest(await self.consumer.recover())
        await self.measure_lag(now)

    async def save(self, now: float) -> None:
        await self.snapshot()  # on stop: the history so far, and the acks it allows

    async def run(self, stop: asyncio.Event) -> None:
        await loop.run(self, stop, self.config.rediscover_every)

    async def close(self) -> None:
        await self.admin.close()
        await self.redis.aclose()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["Detector", "Runner", "RunnerConfig"]
