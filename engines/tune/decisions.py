"""The tuner's decisions as documents, events and audit reasons (pure); shapes in apex.mesh.contract.tune."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from apex.mesh.bus import Priority

from engines.tune.agent import ACTIONS
from engines.tune.params import Params
from engines.tune.safety import Canary
from engines.tune.service import Trial

INSTANCE = "tuner"
PRIORITY = {"canary": Priority.MEDIUM, "promote": Priority.MEDIUM, "rollback": Priority.HIGH,
            "refused": Priority.HIGH, "abandoned": Priority.MEDIUM, "shadow": Priority.LOW}  # fmt: skip


def changes(before: Params, after: Params) -> dict[str, list[Any]]:
    """{parameter: [old, new]} of what differs."""
    return {f.name: [getattr(before, f.name), getattr(after, f.name)]
            for f in fields(Params) if getattr(before, f.name) != getattr(after, f.name)}  # fmt: skip


def describe(ch: dict[str, list[Any]]) -> str:
    return ", ".join(f"{k} {_v(a)} -> {_v(b)}" for k, (a, b) in ch.items()) or "no change"


def _v(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@dataclass(slots=True)
class Doc:
    """One decision (the JSON document of apex.mesh.contract.tune.decisions_key)."""

    time: float
    service: str
    kind: str  # canary | promote | rollback | refused | abandoned | shadow
    action: str
    changes: dict[str, list[Any]]
    evidence: str
    paths: dict[str, str] = field(default_factory=dict)
    version: int = 0  # the trial's candidate version (its correlation id)
    stable_version: int = 0  # the version it is compared with and rolled back to
    result_version: int = 0  # the version this decision wrote (the canary, promotion or rollback)
    rollout_percent: float = 0.0
    shadow: bool = False
    reward_before: float | None = None
    reward_after: float | None = None
    goodput_before: float | None = None
    goodput_after: float | None = None
    p_value: float | None = None
    canary_instances: list[str] = field(default_factory=list)
    principal: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def reason(self) -> str:
        """The audit record's reason: what, why, and the evidence."""
        what = describe(self.changes)
        measured = (f"reward before {_fmt(self.reward_before)} after {_fmt(self.reward_after)}, goodput before "
                    f"{_fmt(self.goodput_before)} after {_fmt(self.goodput_after)}")  # fmt: skip
        if self.kind == "canary":
            return f"tuner: canary of {self.action} ({what}) to {self.rollout_percent:g}% of instances; {self.evidence}"
        if self.kind == "promote":
            return f"tuner: promote version {self.version} ({what}) to 100% of instances: {self.evidence}; {measured}"
        if self.kind == "rollback":
            return f"tuner: roll back version {self.version} ({what}) to version {self.stable_version}: " \
                   f"{self.evidence}; {measured}"  # fmt: skip
        return f"tuner: {self.kind} {self.action} ({what}): {self.evidence}"

    def event(self) -> tuple[str, Priority, str, str, dict[str, str]]:
        """(kind, priority, correlation id, message, attributes) for apex.mesh.bus."""
        attrs = {"action": self.action, "changes": describe(self.changes), "version": str(self.version),
                 "stable_version": str(self.stable_version), "shadow": str(self.shadow).lower()}  # fmt: skip
        for name in ("reward_before", "reward_after", "goodput_before", "goodput_after", "p_value"):
            value = getattr(self, name)
            if value is not None:
                attrs[name] = f"{value:.4f}"
        if self.paths:
            attrs["paths"] = ", ".join(f"{p}={v}" for p, v in self.paths.items())
        if self.canary_instances:
            attrs["canary_instances"] = ",".join(self.canary_instances)
        cid = f"tune:{self.service}:{self.version or int(self.time)}"
        return f"tune.{self.kind}", PRIORITY[self.kind], cid, self.reason(), attrs


def agent_moved(action: str, before: Params, after: Params) -> bool:
    """Whether the change is the agent's move (its parameter, its direction), not the gate's doing."""
    if action.startswith("lb="):
        return True
    act = next((a for a in ACTIONS if a.name == action), None)
    if act is None or act.param is None:
        return False
    old, new, meant = (float(getattr(p, act.param)) for p in (before, after, act.apply(before)))
    return (new - old) * (meant - old) > 0


def trial_doc(service: str, trial: Trial, kind: str, evidence: str, now: float, rollout_percent: float,
              core: Canary | None = None) -> Doc:  # fmt: skip
    """The decision that ends (or abandons) `trial`, with its measured evidence and the canary's p-value."""
    ev = trial.evidence()
    return Doc(now, service, kind, trial.action, changes(trial.before, trial.after), evidence,
               paths=trial.paths, version=trial.candidate, stable_version=trial.stable,
               rollout_percent=rollout_percent,
               p_value=core.p_value if core is not None and "Welch" in core.reason else None,
               canary_instances=sorted(trial.instances), reward_before=ev["reward_before"],
               reward_after=ev["reward_after"], goodput_before=ev["goodput_before"],
               goodput_after=ev["goodput_after"])  # fmt: skip
