"""Events and `apex forecast show` documents for predictions, anomalies and actions (pure).

Predictions, anomalies and actions become apex.mesh.v1.Event protobufs (kind, priority,
correlation id, the message and the evidence as attributes) for `apex:events:{service}`.
"""

from __future__ import annotations

from typing import Any

from apex.mesh.v1 import telemetry_pb2

from engines.forecast.actions import Action
from engines.forecast.predict import Prediction

INSTANCE = "forecaster"


def _event(kind: str, priority: str, cid: str, service: str, now: float, message: str) -> telemetry_pb2.Event:
    e = telemetry_pb2.Event(kind=kind, priority=telemetry_pb2.Priority.Value(priority), correlation_id=cid,
                            service=service, instance=INSTANCE, message=message)  # fmt: skip
    e.time.FromNanoseconds(int(now * 1e9))
    return e


def prediction_event(service: str, p: Prediction, cid: str) -> telemetry_pb2.Event:
    e = _event(f"forecast_{p.kind}", p.priority, cid, service, p.now, p.message)
    e.attributes["lead_s"] = f"{p.lead_s:.0f}"
    e.attributes["key"] = p.key
    for name, value in p.evidence.items():
        e.attributes[name] = f"{value:.6g}"
    return e


def anomaly_event(service: str, a: dict[str, Any]) -> telemetry_pb2.Event:
    msg = f"{a['key']}: {a['metric']} {a['value']:.6g} is anomalous (score {a['score']:.2f})"
    e = _event("anomaly", "MEDIUM", f"anomaly:{a['key']}:{a['metric']}:{int(a['time'])}", service, a["time"], msg)
    e.attributes.update({"metric": a["metric"], "value": f"{a['value']:.6g}", "score": f"{a['score']:.4f}"})
    return e


def action_event(a: Action, status: str, now: float, detail: str = "") -> telemetry_pb2.Event:
    kind = "action_reverted" if a.revert else f"action_{status}"
    priority = "HIGH" if status in ("applied", "refused") else "MEDIUM"
    e = _event(kind, priority, a.correlation_id, a.service, now, a.reason + (f" ({detail})" if detail else ""))
    e.attributes.update({"path": a.path, "value": a.value, "status": status})
    return e


def action_doc(a: Action, status: str, now: float, detail: str = "") -> dict[str, Any]:
    return {"time": now, "path": a.path, "value": a.value, "reason": a.reason, "status": status,
            "revert": a.revert, "correlation_id": a.correlation_id, "detail": detail}  # fmt: skip


def prediction_doc(p: Prediction, cid: str) -> dict[str, Any]:
    return {"kind": p.kind, "key": p.key, "time": p.now, "lead_s": p.lead_s, "priority": p.priority,
            "message": p.message, "evidence": p.evidence, "correlation_id": cid}  # fmt: skip
