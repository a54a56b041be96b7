"""Run a scenario file with real processes for each policy and summarise it as the simulator does.

For each policy, in a fresh run of upstreams and sidecars (mesh.Mesh) under service
`<scenario>-<policy>`: store the policy's starting configuration in the control plane, start the
sidecars (two instances of the service by default, the load split between them, so a canary of 50%
has a control group) joined to it, warm them up, start the scenario's clock (the upstreams' events
and the load generator share it), and read the load generator's 1 s windows until the run ends. A
driver may change the configuration during the run through the control plane (the tuner); the
summary is the simulator's (`engines.tune.run.Result`), so `engines.tune.compare.table` prints both alike.
Per-sidecar settings (the concurrency cap, the retry budget) apply to each sidecar: with two, the
cap over the whole service is twice the configured one (the simulator models one sidecar).

Policies on real processes:
- default: the static `Params()`;
- peak-ewma: the default with peak-EWMA balancing;
- gradient2: the default plus the sidecar's own adaptive concurrency limit (layers/limits/gradient.py,
  a Gradient2-style limit) on every cluster;
- oracle: the best static configuration the simulator's grid search finds for this (scaled) scenario,
  with hindsight, run for real (the grid search is not repeated on real processes: ~60 runs);
- tuned: the tuning engine, `apex tuner` (engines/tune/runner.py), as its own process for the run's
  service (engine.py), reading the sidecars' telemetry windows and pushing canaried changes through
  the control plane; or, with tuner="inprocess" (or where the engine is not there), the pure `Tuner`
  (engines/tune/tuner.py), trained in the simulator on the scaled scenario (other seeds) as `apex tune
  simulate` does, then driven here once per real window (the load generator's, so good/stale counts are
  exact) and pushing every change it makes through the control plane to every instance (source TUNER).
Envoy's gradient controller has no real counterpart in the sidecar, so it runs in the simulator only.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from apex.mesh.contract.histogram import Histogram
from apex.mesh.v1 import control_pb2

from benchmarks.scenario_run import policy as policies
from benchmarks.scenario_run.engine import EngineTuner
from benchmarks.scenario_run.engine import available as engine_available
from benchmarks.scenario_run.loadgen import LoadGenerator, Window
from benchmarks.scenario_run.mesh import Mesh, write_start
from benchmarks.scenario_run.timeline import scaled
from engines.tune import reward as rewards
from engines.tune.params import DEFAULT, Params
from engines.tune.run import Result, time_to_adapt
from engines.tune.scenario import Scenario, load
from engines.tune.sim import Observation
from engines.tune.tuner import Tuner

WARMUP = 2.0  # seconds of load at the initial rate before the scenario's clock starts (not counted)
REAL_POLICIES = ("default", "oracle", "gradient2", "peak-ewma", "tuned")


@dataclass(frozen=True)
class Options:
    time_scale: float = 1.0
    rate_scale: float = 1.0
    seed: int = 0  # the load generator's and the agent's seed
    episodes: int = 16  # simulator training episodes for the tuned agent
    baselines: bool = False
    tuner: str = "auto"  # "engine": the `apex tuner` process; "inprocess": the pure Tuner here; auto: engine if present
    sidecars: int = 2  # instances of the service, each with its sidecar; the load is split between them
    redis_url: str | None = None
    warmup: float = WARMUP  # seconds of load before the scenario's clock starts


def observation(w: Window, sc: Scenario) -> Observation:
    """The window as the tuner reads telemetry (in flight estimated by Little's law: latency-seconds / 1 s)."""
    q = w.histogram.quantiles((50.0, 99.0)) if w.histogram.count else {50.0: 0.0, 99.0: 0.0}
    return Observation(
        t=float(w.second + 1), interval=1.0, offered=w.offered, calls=w.ok + w.errors, ok=w.ok, good=w.good,
        errors=w.errors, rejected=w.rejected, timeouts=w.timeouts, retries=0, p50=q[50.0], p99=q[99.0],
        inflight=round(w.histogram.sum), cache_hits=0, stale=w.stale, ejected=0, histogram=w.histogram,
        slo=sc.slo.latency,
    )  # fmt: skip


class Driver:
    """Changes the configuration during a run (the default: never)."""

    def begin(self, params: Params) -> Params:
        return params

    def window(self, obs: Observation, params: Params) -> Params:
        return params


class InProcessTuner(Driver):
    """The pure Tuner on the real windows; each change it makes is pushed through the control plane."""

    def __init__(self, tuner: Tuner, push: Callable[[Params, str], None]) -> None:
        self.tuner = tuner
        self.push = push

    def begin(self, params: Params) -> Params:
        return self.tuner.start(params)

    def window(self, obs: Observation, params: Params) -> Params:
        seen = len(self.tuner.decisions)
        new = self.tuner.decide(obs, params)
        if new != params:
            d = self.tuner.decisions[-1] if len(self.tuner.decisions) > seen else None
            self.push(new, f"{d.action}: {d.evidence}" if d else "tuner")
        return new


def summarise(name: str, sc: Scenario, windows: list[Window], params_seen: list[Params]) -> Result:
    """The simulator's summary figures from the real windows (outcomes after the end are counted too)."""
    n = math.ceil(sc.duration - 1e-9)
    hist = Histogram()
    offered = good = calls = errors = stale = 0
    total_reward = 0.0
    for i, w in enumerate(windows):
        hist.merge(w.histogram)
        offered += w.offered
        good += w.good
        calls += w.ok + w.errors
        errors += w.errors
        stale += w.stale
        if i < n:
            churn = rewards.churn(params_seen[i - 1], params_seen[i]) if 0 < i < len(params_seen) else 0.0
            total_reward += rewards.reward(observation(w, sc), churn)
    series = tuple(w.good / w.offered if w.offered else 1.0 for w in windows[:n])
    q = hist.quantiles((50.0, 99.0)) if hist.count else {50.0: 0.0, 99.0: 0.0}
    changes = sum(1 for a, b in itertools.pairwise(params_seen) if a != b)
    return Result(
        name=name, goodput=good / sc.duration, good_ratio=good / max(offered, 1), p50=q[50.0], p99=q[99.0],
        error_rate=errors / max(calls, 1), staleness=stale / max(offered, 1),
        time_to_adapt=time_to_adapt(series, sc.disturbances()), reward=total_reward / sc.duration,
        changes=changes, final=params_seen[-1] if params_seen else DEFAULT, good_series=series,
    )  # fmt: skip


@dataclass
class RunRecord:
    """One real run: its summary, its windows (for plots), the configuration in force each second
    (as far as this process knows it) and the tuning engine's decisions (`apex tune show`)."""

    result: Result
    windows: list[Window]
    params: list[Params]
    decisions: list[dict[str, Any]] = field(default_factory=list)


class Runner:
    """Redis, the control plane and the load generator's workers stay up for every policy of a scenario."""

    def __init__(self, scenario_file: str, options: Options, progress: Callable[[str], None] | None = None) -> None:
        self.file = scenario_file
        self.opts = options
        self.original = load(scenario_file)
        self.sc = scaled(self.original, options.time_scale, options.rate_scale)
        self.say = progress or (lambda _: None)
        self._tmp = Path(tempfile.mkdtemp(prefix="apex-scenario-"))
        self.mesh = Mesh(self._tmp, options.redis_url)
        peak = max(max(s.rate, s.ramp_to or 0.0) for s in self.sc.load)
        self.gen: LoadGenerator | None = None
        self.workers = 1 if peak <= 400 else 2

    def __enter__(self) -> Runner:
        try:
            self.mesh.start()
            self.gen = LoadGenerator(self.workers)
        except BaseException:
            self.__exit__(RuntimeError)
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self.gen is not None:
            self.gen.close()
        self.mesh.close()
        if exc_type is None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:  # keep the processes' logs for the error message that names them
            self.say(f"the processes' logs are kept in {self._tmp}")

    def run(self, name: str, params: Params, *, adaptive: bool = False, driver: Driver | None = None,
            engine: bool = False) -> RunRecord:  # fmt: skip
        assert self.gen is not None, "use Runner as a context manager"
        sc, opts, mesh = self.sc, self.opts, self.mesh
        service = f"{sc.name}-{name}"
        driver = driver or Driver()
        addresses, start_file = mesh.start_run(service, self.file, len(sc.endpoints), opts.time_scale,
                                               opts.rate_scale, opts.seed)  # fmt: skip
        try:
            params = driver.begin(params)
            tuner = EngineTuner(mesh, sc, service, seed=opts.seed, episodes=opts.episodes) if engine else None
            if tuner is not None:
                tuner.start()

            def push(new: Params, reason: str) -> None:
                mesh.set_policy(service, policies.policy(sc, new, addresses, adaptive=adaptive), reason=reason,
                                author="apex tune scenario: tuner (in-process)", source=control_pb2.TUNER)  # fmt: skip

            if isinstance(driver, InProcessTuner):
                driver.push = push
            first = policies.policy(sc, params, addresses, adaptive=adaptive)
            inbound = [p["inbound"] for p in mesh.start_sidecars(service, first, opts.sidecars)]
            mesh.wait_upstreams()
            for address in inbound:
                mesh.warm(address, sc.cache is not None)
            t0 = time.monotonic() + 0.5 + opts.warmup
            write_start(start_file, t0)
            self.gen.start(inbound, self.file, opts.time_scale, opts.rate_scale, opts.seed, t0, opts.warmup)
            self.say(f"{sc.name}: {name} running ({sc.duration:g} s)")
            windows: list[Window] = []
            seen = [params]
            for w in self.gen.windows():
                windows.append(w)
                if w.second + 1 < sc.duration:
                    params = driver.window(observation(w, sc), params)
                    seen.append(params)
            if dead := mesh.dead():
                raise RuntimeError(f"processes died during the run: {', '.join(dead)}; logs in {mesh.work}")
            decisions: list[dict[str, Any]] = []
            changes = 0
            if isinstance(driver, InProcessTuner):
                decisions = [{"t": d.t, "action": d.action, "evidence": d.evidence, "after": asdict(d.after)}
                             for d in driver.tuner.decisions]  # fmt: skip
            if tuner is not None:
                final = tuner.final()
                seen.append(final)
                changes, decisions = tuner.changes(), tuner.decisions()
        finally:
            mesh.stop_run()
        result = summarise(name, sc, windows, seen)
        if tuner is not None:
            result = replace(result, changes=changes)
        self.say(f"{sc.name}: {name} done: goodput {result.goodput:.1f}/s, p99 {1e3 * result.p99:.1f} ms")
        return RunRecord(result, windows, seen, decisions)

    def tuner(self) -> InProcessTuner:
        from engines.tune.tuner import train

        tuner = train(self.sc, self.opts.episodes, seed=self.opts.seed)
        return InProcessTuner(tuner, lambda p, r: None)

    def compare(self) -> list[RunRecord]:
        """default, [oracle, gradient2, peak-ewma,] tuned — in REAL_POLICIES order."""
        out = [self.run("default", DEFAULT)]
        if self.opts.baselines:
            from engines.tune.run import oracle

            best, _ = oracle(self.sc)
            out.append(self.run("oracle", best))
            out.append(self.run("gradient2", DEFAULT, adaptive=True))
            out.append(self.run("peak-ewma", replace(DEFAULT, lb="peak_ewma")))
        if self.uses_engine:
            out.append(self.run("tuned", DEFAULT, engine=True))
        else:
            out.append(self.run("tuned", DEFAULT, driver=self.tuner()))
        return out

    def describe_tuned(self) -> str:
        if self.uses_engine:
            return (f"tuned = the tuning engine process (apex tuner, aggressive preset, pretrained "
                    f"{self.opts.episodes} sim episodes if it offers --pretrain), learning online")  # fmt: skip
        return (f"tuned = the pure Tuner in this process (trained {self.opts.episodes} simulator episodes), "
                "pushing through the control plane")  # fmt: skip

    @property
    def uses_engine(self) -> bool:
        if self.opts.tuner == "auto":
            return engine_available()
        return self.opts.tuner == "engine"
