"""The "tuned" run with the real tuning engine: an `apex tuner` process for the run's service.

Before the sidecars start, the service gets a strategy (as `apex tune strategy set` stores it: a preset,
aggressive by default since a scenario lasts minutes, and the scenario's SLO), and `apex tuner`
starts against the run's Redis and control plane, tuning only this service, its agent pretrained in
the simulator on the (scaled) scenario where the engine offers it (`--pretrain`, as the in-process
tuner is trained). It reads the
sidecars' telemetry windows from Redis and pushes its changes through the control plane itself
(canaries to a share of the instances, compared with the rest, promoted or rolled back); nothing
is driven from here. After the run the final configuration is read back from the control plane
(the stable version while a canary is still running), and the decisions the engine kept in Redis (as
`apex tune show` lists them).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from typing import Any

import redis
import yaml
from apex.mesh.contract import tune as keys
from apex.mesh.v1 import control_pb2

from benchmarks.scenario_run import policy as policies
from benchmarks.scenario_run.mesh import Mesh
from benchmarks.scenario_run.timeline import to_dict
from engines.tune import strategy as strategies
from engines.tune.params import Params
from engines.tune.scenario import Scenario


def available() -> bool:
    """Whether this checkout has the tuning engine's runner (`apex tuner`)."""
    return importlib.util.find_spec("engines.tune.runner") is not None


def pretrains() -> bool:
    """Whether `apex tuner` takes --pretrain SCENARIO (start from an agent trained in the simulator)."""
    from dataclasses import fields

    from engines.tune.runner import RunnerConfig

    return "pretrain" in {f.name for f in fields(RunnerConfig)}


class EngineTuner:
    def __init__(self, mesh: Mesh, sc: Scenario, service: str, *, seed: int, episodes: int = 0,
                 preset: str = "aggressive") -> None:  # fmt: skip
        self.mesh, self.sc, self.service, self.seed, self.preset = mesh, sc, service, seed, preset
        self.episodes = episodes

    def start(self) -> None:
        # what `apex tune strategy set --service S --preset P --slo <the SLO in whole ms>` stores
        slo = round(self.sc.slo.latency * 1000) / 1000
        strategy = strategies.with_changes(strategies.preset(self.preset), slo=slo)
        with redis.Redis.from_url(self.mesh.redis_url, socket_timeout=10) as client:
            client.set(keys.strategy_key(self.service), strategy.to_json())
        args = ["tuner", "--redis", self.mesh.redis_url, "--control-plane", self.mesh.control_plane,
                "--service", self.service, "--seed", str(self.seed), "--log-level", "WARNING"]  # fmt: skip
        if self.episodes > 0 and pretrains():
            path = self.mesh.work / self.service / "scenario.yaml"
            path.write_text(yaml.safe_dump(to_dict(self.sc), sort_keys=False))
            args += ["--pretrain", str(path), "--pretrain-episodes", str(self.episodes)]
        # not waited for: it creates its consumer group from the stream's first entry (id 0), so windows the
        # sidecars publish before it reads are still delivered to it
        self.mesh.start_engine(f"{self.service}-tuner", args)

    def final(self) -> Params:
        """The configuration every instance runs (or returns to): the stable version while a canary is open."""
        stub = self.mesh._stub
        record = stub.GetPolicy(control_pb2.GetPolicyRequest(service=self.service), timeout=10)
        if record.rollout_percent < 100 and record.stable_version:
            record = stub.GetPolicy(
                control_pb2.GetPolicyRequest(service=self.service, version=record.stable_version), timeout=10
            )
        from google.protobuf import json_format

        pol: dict[str, Any] = json_format.MessageToDict(record.policy, preserving_proto_field_name=True)
        return policies.params_of(self.sc, pol)

    def changes(self) -> int:
        """Policy versions the tuner stored (canaries, promotions, rollbacks)."""
        return sum(1 for r in self.mesh.history(self.service) if r.source == control_pb2.TUNER)

    def decisions(self) -> list[dict[str, Any]]:
        """The engine's decisions for the service, newest first (what `apex tune show --json` lists)."""
        with redis.Redis.from_url(self.mesh.redis_url, socket_timeout=10) as client:
            raw: list[bytes] = client.lrange(keys.decisions_key(self.service), 0, keys.RECENT - 1)
        out: list[dict[str, Any]] = []
        for doc in raw:
            with contextlib.suppress(ValueError):
                out.append(json.loads(doc))
        return out
