"""The tuning engine's I/O (`apex tuner`): telemetry windows in; canaried, audited policy changes, decisions
and events out; models and strategies in Redis. Decisions live in engines.tune.{service,tuner,safety}.

Each second of a service (closed `lag` seconds after it ends, all instances' windows summed) is one
decision of the service's ServiceTuner. A change goes to the control plane as a new policy version
rolled out to the strategy's canary share (PolicyAdmin SetPolicy, source TUNER, rollout < 100);
while it runs, each second's windows are split by the policy version the instance ran (every
window says): the candidate's (the canary) against the others' (the control group), and the
core's Canary test (Welch on per-second goodput, an immediate rollback on a regression past its
threshold) decides: promote (the same policy again at 100%) or PolicyAdmin Rollback to the stable
version. A trial whose version no instance reports within `apply_timeout` is rolled back too. With
one instance (no control group) the canary is compared with the seconds before the change.

Every decision is a document on `decisions_key(service)`, an event on `apex:events:{service}`, and
(for changes) the audit record's reason, with its evidence. Exactly once in effect, as the
forecaster: a window's entry is acknowledged only after the model that learnt from its second is
saved (with that second); a restarted engine loads the model and ignores re-read windows it holds.
A trial cut short by a restart is rolled back at start (its evidence is gone).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from apex.mesh.contract import tune as keys
from apex.mesh.v1 import control_pb2, telemetry_pb2

from engines.control.admin_client import AdminError, Conflict, PolicyAdminClient
from engines.control.patch import PatchError
from engines.ingest import loop
from engines.ingest.consumer import Entry, StreamConsumer
from engines.ingest.loop import Every, Held
from engines.ingest.telemetry import TELEMETRY_PATTERN, decode_window
from engines.tune import policy_map, reward
from engines.tune import strategy as strategies
from engines.tune.decisions import Doc, agent_moved, changes, trial_doc
from engines.tune.journal import Journal
from engines.tune.model_store import Model, ModelError, ModelStore
from engines.tune.observe import Part, Seconds, observe, stats
from engines.tune.params import Params
from engines.tune.safety import Canary
from engines.tune.service import ServiceState, ServiceTuner, Trial, mean, seed_for
from engines.tune.sim import Observation

log = logging.getLogger(__name__)
Window: TypeAlias = telemetry_pb2.TelemetryWindow


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    group: str = "tuner"
    consumer: str = field(default_factory=socket.gethostname)
    listeners: frozenset[str] = frozenset({"inbound"})  # whose routes are the service's calls (and tuned)
    services: frozenset[str] = frozenset()  # only these (empty: every service with telemetry and a policy)
    require_strategy: bool = False  # tune only services with a stored strategy
    shadow: bool = False  # decide and record, push nothing
    lag: float = 2.0
    snapshot_every: float = 10.0
    refresh_every: float = 5.0  # strategy and policy re-read
    rediscover_every: float = 10.0
    apply_timeout: float = 15.0  # a canary no instance runs after this is rolled back
    min_calls: int = 10  # a second with fewer calls (canary or control) is too thin to judge or learn from
    max_trial: float = 120.0  # a canary without enough judged seconds by then is rolled back
    claim_idle_ms: int = 30_000
    seed: int = 0
    pretrain: str = ""  # a scenario file: a service without a stored model starts from one trained on it
    pretrain_episodes: int = 8


class Runner:
    def __init__(self, redis_url: str, control_plane: str, config: RunnerConfig | None = None,
                 token: str | None = None) -> None:  # fmt: skip
        self.config = c = config or RunnerConfig()
        self.redis = aioredis.from_url(redis_url, socket_timeout=5)
        self.admin = PolicyAdminClient(control_plane, author="tuner", source=control_pb2.TUNER, token=token)
        self.consumer: StreamConsumer[Window] = StreamConsumer(
            self.redis, TELEMETRY_PATTERN, c.group, c.consumer, decode_window, claim_idle_ms=c.claim_idle_ms
        )
        self.models = ModelStore(self.redis)
        self.seconds = Seconds(lag=c.lag)
        self.services: dict[str, ServiceState] = {}
        self.held: Held[Window] = Held()
        self.journal = Journal(self.redis)
        self.decisions = self.journal.decisions  # this process's, newest last (tests, status)
        self.windows = 0
        self._snapshot_every = Every(c.snapshot_every, last=time.time())

    # --- services: model, strategy, policy ----------------------------------------------------

    def wanted(self, service: str) -> bool:
        return not self.config.services or service in self.config.services

    async def strategy(self, service: str) -> strategies.Strategy | None:
        raw: Any = await self.redis.get(keys.strategy_key(service))
        if raw is None:
            return None if self.config.require_strategy else strategies.DEFAULT
        try:
            return strategies.from_json(raw, f"strategy of {service}")
        except strategies.StrategyError as exc:
            log.warning("%s: not tuned: %s", service, exc)
            return None

    async def state(self, service: str) -> ServiceState:
        st = self.services.get(service)
        if st is not None:
            return st
        strategy = await self.strategy(service) or strategies.DEFAULT
        model: Model | None = None
        try:
            model = await self.models.load(service)
        except ModelError as exc:
            log.warning("%s: stored model unusable (%s); starting a new one", service, exc)
        seed = seed_for(service, self.config.seed)
        if model is None and self.config.pretrain:
            model = await asyncio.to_thread(self._pretrained, seed)
        tuner = ServiceTuner(strategy, frozenset(), seed=seed, shadow=self.config.shadow,
                             agent=model.agent if model else None, bandit=model.bandit if model else None)  # fmt: skip
        st = self.services[service] = ServiceState(service, tuner, strategy)
        if model is not None and model.version:
            st.last_second, st.model_version = model.last_second, model.version
            self.seconds.resume(service, model.last_second + 1)
            log.info("%s: resumed model version %d (learnt up to second %d)", service, model.version,
                     model.last_second)  # fmt: skip
        return st

    def _pretrained(self, seed: int) -> Model:
        """A model trained in the simulator on the `pretrain` scenario (episodes on other seeds)."""
        from engines.tune.scenario import load
        from engines.tune.tuner import train

        trained = train(load(self.config.pretrain), self.config.pretrain_episodes, seed=seed % 2**31)
        log.info("model pretrained on %s (%d episodes)", self.config.pretrain, self.config.pretrain_episodes)
        return Model(trained.agent, trained.bandit, -1)

    async def refresh(self, st: ServiceState, now: float, force: bool = False) -> None:
        """Re-read the strategy and the latest policy (every `refresh_every`, or when forced)."""
        if not force and now - st.refreshed < self.config.refresh_every:
            return
        st.refreshed = now
        strategy = await self.strategy(st.name)
        if strategy is None:
            st.skipped = "no usable strategy"
            return
        try:
            record = await self.admin.get(st.name)
        except AdminError as exc:
            st.skipped = f"no policy: {exc.details}"
            return
        st.skipped = ""
        st.record = record
        st.targets = policy_map.targets(record.policy, self.config.listeners)
        st.params = policy_map.read(record.policy, st.targets)
        if strategy != st.strategy or st.tuner.available != policy_map.available(st.targets):
            st.strategy = strategy
            st.tuner.configure(strategy, policy_map.available(st.targets))
        trial = st.trial
        if trial is not None and record.version != trial.candidate:
            doc = self._trial_doc(st, trial, "abandoned", f"version {record.version} was written during the trial "
                                  f"of version {trial.candidate}: the newer one stands", now)  # fmt: skip
            st.trial, st.tuner.canary = None, None
            await self.journal.record(doc)
        elif trial is None and record.source == control_pb2.TUNER and record.rollout_percent < 100 and \
                not self.config.shadow and record.version not in st.orphans:  # fmt: skip
            st.orphans.add(record.version)
            await self._orphan(st, record, now)

    async def _orphan(self, st: ServiceState, record: control_pb2.PolicyRecord, now: float) -> None:
        """A canary of ours with no trial in memory (a restart cut it short): roll it back."""
        doc = Doc(now, st.name, "rollback", "restart", {}, "the tuner restarted during this canary's trial; "
                  "its evidence is lost", version=record.version, stable_version=record.stable_version)  # fmt: skip
        await self._rollback(st, doc, record.version, record.stable_version)

    # --- telemetry in ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.consumer.discover()
        pending = await self.consumer.pending()
        await self.ingest(pending)
        log.info("%d pending entries of %s read again", len(pending), self.config.consumer)

    async def ingest(self, entries: list[Entry[Window]]) -> None:
        for entry in entries:
            w = entry.value
            second = w.window_start.seconds
            self.held.add(entry, w.service, second)
            if not self.wanted(w.service):
                continue
            st = await self.state(w.service)
            s = stats(w, self.config.listeners, st.strategy.slo)
            if self.seconds.add(w.service, second, w.sequence, Part(w.instance, w.policy_version, s)):
                self.windows += 1

    async def step(self, now: float) -> None:
        """Read what arrived, decide on every closed second, save models (and ack) when due."""
        await self.ingest(await self.consumer.read())
        for service, second, parts in self.seconds.close(now):
            st = self.services[service]
            st.last_second = second
            if not parts:
                continue
            try:
                await self.decide(st, second, parts, now)
            except (OSError, aioredis.RedisError):
                raise  # the loop retries the connection
            except Exception:  # one service's surprise must not stop the others' tuning
                log.exception("%s: decision for second %d failed; skipped", service, second)
        if self._snapshot_every.due(now):
            await self.snapshot(now)

    async def snapshot(self, now: float) -> None:
        """Save every model, then acknowledge the entries of the seconds those models have learnt from."""
        for st in self.services.values():
            if st.last_second >= 0:
                model = Model(st.tuner.agent, st.tuner.bandit, st.last_second, st.model_version)
                st.model_version = await self.models.save(st.name, model, now)

        def saved(service: str, second: int) -> bool:
            known = self.services.get(service)
            return not self.wanted(service) or (known is not None and second <= known.last_second)

        await self.consumer.ack(self.held.release(saved))
        await self.redis.hset(keys.status_key(self.config.group), keys.STATUS, json.dumps(self.status(now)))

    def status(self, now: float) -> dict[str, Any]:
        return {"time": now, "consumer": self.config.consumer, "shadow": self.config.shadow,
                "windows": self.windows, "held": len(self.held), "duplicates": self.seconds.duplicates,
                "late": self.seconds.late,
                "services": {name: st.view() for name, st in self.services.items()}}  # fmt: skip

    # --- decisions -------------------------------------------------------------------------------

    async def decide(self, st: ServiceState, second: int, parts: list[Part], now: float) -> None:
        newest = max((int(p.version) for p in parts if p.version.isdigit()), default=0)
        stale = st.record is None or newest > st.record.version
        await self.refresh(st, now, force=stale)
        if st.record is None or st.skipped:
            return
        slo, t = st.strategy.slo, float(second + 1)
        trial = st.trial
        control: Observation | None = None
        if trial is not None:
            canary = [p for p in parts if p.version == str(trial.candidate)]
            rest = [p for p in parts if p.version != str(trial.candidate)]
            if not canary:
                since = trial.last_seen if trial.applied else trial.started
                if now - since > self.config.apply_timeout:
                    doc = self._trial_doc(st, trial, "rollback", f"no instance ran version {trial.candidate} "
                                          f"for {self.config.apply_timeout:g}s", now)  # fmt: skip
                    await self._rollback(st, doc, trial.candidate, trial.stable)
                return
            trial.applied, trial.last_seen = True, now
            trial.instances.update(p.instance for p in canary)
            obs = observe((p.stats for p in canary), t, slo)
            control = observe((p.stats for p in rest), t, slo) if rest else None
            if obs.offered < self.config.min_calls or (control is not None and control.offered < self.config.min_calls):
                if now - trial.started > self.config.max_trial:  # too little traffic to judge: undo
                    doc = self._trial_doc(st, trial, "rollback", f"fewer than {self.config.min_calls} calls a second "
                                          f"to judge it by within {self.config.max_trial:g}s", now)  # fmt: skip
                    await self._rollback(st, doc, trial.candidate, trial.stable)
                return
            trial.canary_reward.append(reward.reward(obs))
            trial.canary_good.append(obs.good / obs.offered)
            if control is not None:
                trial.control_reward.append(reward.reward(control))
                trial.control_good.append(control.good / control.offered)
        else:
            obs = observe((p.stats for p in parts), t, slo)
            if obs.offered < self.config.min_calls:
                return  # too thin a second to learn from
            st.recent_reward.append(reward.reward(obs))
            st.recent_good.append(obs.good / obs.offered)
            if st.strategy.frozen or st.record.rollout_percent < 100:
                return  # frozen, or someone else's canary is running: observe only
        tuner = st.tuner
        if trial is not None and tuner.canary is None:
            return  # cannot happen: a trial on the mesh always has the core's Canary
        tuner.sync(st.params)
        core: Canary | None = tuner.canary
        before = len(tuner.decisions)
        tuner.decide(obs, st.params, control)
        for d in tuner.decisions[before:]:
            if d.action == "promote" and st.trial is not None:
                await self._promote(st, st.trial, core, now)
            elif d.action == "rollback" and st.trial is not None:
                doc = self._trial_doc(st, st.trial, "rollback", core.reason if core else d.evidence, now, core)
                await self._rollback(st, doc, st.trial.candidate, st.trial.stable)
            elif d.action in ("promote", "rollback"):
                kind = "shadow"
                await self.journal.record(Doc(now, st.name, kind, d.action, changes(d.before, d.after), d.evidence,
                                       shadow=True))  # fmt: skip
            else:
                await self._change(st, d.action, d.before, d.after, d.evidence, now)

    def _trial_doc(self, st: ServiceState, trial: Trial, kind: str, evidence: str, now: float,
                   core: Canary | None = None) -> Doc:  # fmt: skip
        return trial_doc(st.name, trial, kind, evidence, now, st.strategy.canary_percent, core)

    async def _change(self, st: ServiceState, action: str, before: Params, after: Params, evidence: str,
                      now: float) -> None:  # fmt: skip
        """Push an admitted change as a canary (or record it, in shadow mode)."""
        record, targets = st.record, st.targets
        assert record is not None and targets is not None
        diff = changes(before, after)
        if not agent_moved(action, before, after):
            action = "into_bounds"  # not the agent's move: the gate moved a value into the strategy's bounds
            evidence = f"{evidence}; outside the strategy's bounds"
        if self.config.shadow:
            await self.journal.record(Doc(now, st.name, "shadow", action, diff, evidence, shadow=True))
            return
        base = Doc(now, st.name, "canary", action, diff, evidence, rollout_percent=st.strategy.canary_percent,
                   stable_version=record.version, reward_before=mean(st.recent_reward),
                   goodput_before=mean(st.recent_good))  # fmt: skip
        try:
            edits = policy_map.edits(record.policy, targets, before, after)
            if not edits:
                raise PatchError("policy", "no policy field carries this parameter")
            policy = policy_map.apply(record.policy, edits)
            base.paths = dict(edits)
            new = await self.admin.set(st.name, policy, reason=base.reason(), expected_version=record.version,
                                       rollout_percent=st.strategy.canary_percent)  # fmt: skip
        except (PatchError, AdminError) as exc:
            st.tuner.canary = None
            base.kind, base.evidence = "refused", f"{evidence}; not pushed: {_why(exc)}"
            await self.journal.record(base)
            await self.refresh(st, now, force=True)
            return
        base.version = base.result_version = new.version
        base.principal = new.author
        st.trial = Trial(action, before, after, new.version, record.version, now, dict(edits),
                         baseline_reward=list(st.recent_reward), baseline_good=list(st.recent_good))  # fmt: skip
        st.record, st.params = new, after
        await self.journal.record(base)

    async def _promote(self, st: ServiceState, trial: Trial, core: Canary | None, now: float) -> None:
        doc = self._trial_doc(st, trial, "promote", core.reason if core else "promote", now, core)
        st.trial = None
        try:
            candidate = await self.admin.get(st.name, trial.candidate)
            new = await self.admin.set(st.name, candidate.policy, reason=doc.reason(),
                                       expected_version=trial.candidate, rollout_percent=100.0)  # fmt: skip
        except AdminError as exc:
            await self._abandon(st, doc, exc, now)
            return
        doc.result_version, doc.principal = new.version, new.author
        st.record = new
        await self.journal.record(doc)

    async def _rollback(self, st: ServiceState, doc: Doc, candidate: int, stable: int) -> None:
        st.trial = None
        st.tuner.canary = None
        try:
            new = await self.admin.rollback(st.name, stable, reason=doc.reason(), expected_version=candidate)
        except AdminError as exc:
            await self._abandon(st, doc, exc, doc.time)
            return
        doc.result_version, doc.principal = new.version, new.author
        st.record = new
        st.params = policy_map.read(new.policy, policy_map.targets(new.policy, self.config.listeners))
        await self.journal.record(doc)

    async def _abandon(self, st: ServiceState, doc: Doc, exc: AdminError, now: float) -> None:
        """Someone else wrote a version during the trial (or the write failed): theirs stands."""
        doc.kind = "abandoned"
        who = "another writer changed the policy first" if isinstance(exc, Conflict) else _why(exc)
        doc.evidence = f"{doc.evidence}; not applied: {who}"
        await self.journal.record(doc)
        await self.refresh(st, now, force=True)

    # --- the loop ----------------------------------------------------------------------------

    async def rediscover(self, now: float) -> None:
        await self.consumer.discover()
        await self.ingest(await self.consumer.recover())

    async def save(self, now: float) -> None:
        await self.snapshot(now)

    async def run(self, stop: asyncio.Event) -> None:
        await loop.run(self, stop, self.config.rediscover_every)

    async def close(self) -> None:
        await self.admin.close()
        await self.redis.aclose()


def _why(exc: Exception) -> str:
    return exc.details if isinstance(exc, AdminError) else str(exc)


__all__ = ["Runner", "RunnerConfig", "ServiceState"]
