"""`apex policy set/patch/rollback --wait`: wait for the sidecars' ACK/NACK of the stored version.

The control plane's registry (ListInstances) says, per instance, the version pushed, the version
applied (ACK) and the last version rejected (NACK). `progress` (pure) reads one listing; the CLI
polls it until every expected sidecar answered, any NACKed, or the timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from apex.mesh.v1 import control_pb2


@dataclass(slots=True)
class Progress:
    applied: list[str] = field(default_factory=list)
    nacked: list[control_pb2.InstanceStatus] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Every expected sidecar answered (at least one), or one rejected it: no point waiting more."""
        return bool(self.nacked) or (not self.pending and bool(self.applied))


def progress(instances: Sequence[control_pb2.InstanceStatus], version: int, full_rollout: bool) -> Progress:
    """Who applied, rejected or has still to answer version `version`.

    Expected: every connected instance for a 100% rollout; for a canary, those it was pushed to.
    """
    v = str(version)
    out = Progress()
    for s in sorted(instances, key=lambda s: s.instance):
        if s.applied_version == v:
            out.applied.append(s.instance)
        elif s.last_nack_version == v:
            out.nacked.append(s)
        elif s.connected and (full_rollout or s.pushed_version == v):
            out.pending.append(s.instance)
    return out


def summary(p: Progress, version: int) -> str:
    lines = [
        f"version {version}: applied by {len(p.applied)}, rejected by {len(p.nacked)}, waiting for {len(p.pending)}"
    ]
    for s in p.nacked:
        where = f"{s.last_nack_field}: " if s.last_nack_field else ""
        lines.append(f"  NACK {s.instance}: {where}{s.last_nack_reason}")
    if p.pending:
        lines.append(f"  no answer yet: {', '.join(p.pending)}")
    return "\n".join(lines)
