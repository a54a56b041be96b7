"""Events and `apex forecast show` documents for predictions, anomalies and actions (pure).

Predictions, anomalies and actions become `Out` events (dotted kind, priority, correlation id, the
message and the evidence as attributes) that the runner publishes through apex.mesh.bus on
`apex:events:{service}`: `forecast.traffic_spike`, `forecast.shortage`, `forecast.degradation`,
`forecast.anomaly`, `forecast.action_applied` / `_refused` / `_dry_run`, `forecast.action_reverted`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apex.mesh.bus import Priority

from engines.forecast.actions import Action
from engines.forecast.predict import Prediction

INSTANCE = "forecaster"


@dataclass(frozen=True, slots=True)
class Out:
    kind: str
    priority: Priority
    correlation_id: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)


def prediction_event(p: Prediction, cid: str) -> Out:
    attributes = {"lead_s": f"{p.lead_s:.0f}", "key": p.key, "predicted_at": f"{p.at:.0f}"}
    attributes.update({name: f"{value:.6g}" for name, value in p.evidence.items()})
    return Out(f"forecast.{p.kind}", Priority[p.priority], cid, p.message, attributes)


def anomaly_event(a: dict[str, Any]) -> Out:
    msg = f"{a['key']}: {a['metric']} {a['value']:.6g} is anomalous (score {a['score']:.2f})"
    cid = f"anomaly:{a['key']}:{a['metric']}:{int(a['time'])}"
    attributes = {"metric": a["metric"], "value": f"{a['value']:.6g}", "score": f"{a['score']:.4f}", "key": a["key"]}
    return Out("forecast.anomaly", Priority.MEDIUM, cid, msg, attributes)


def action_event(a: Action, status: str, detail: str = "") -> Out:
    kind = "forecast.action_reverted" if a.revert else f"forecast.action_{status.replace('-', '_')}"
    priority = Priority.HIGH if status in ("applied", "refused") else Priority.MEDIUM
    attributes = {"path": a.path, "value": a.value, "status": status}
    return Out(kind, priority, a.correlation_id, a.reason + (f" ({detail})" if detail else ""), attributes)


def action_doc(a: Action, status: str, now: float, detail: str = "") -> dict[str, Any]:
    return {"time": now, "path": a.path, "value": a.value, "reason": a.reason, "status": status,
            "revert": a.revert, "correlation_id": a.correlation_id, "detail": detail}  # fmt: skip


def prediction_doc(p: Prediction, cid: str) -> dict[str, Any]:
    return {"kind": p.kind, "key": p.key, "time": p.now, "lead_s": p.lead_s, "priority": p.priority,
            "message": p.message, "evidence": p.evidence, "correlation_id": cid}  # fmt: skip
