"""The tunable parameters, their operator bounds and the default (static) configuration."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

LB_POLICIES = ("round_robin", "least_request", "peak_ewma")


@dataclass(frozen=True, slots=True)
class Params:
    """One configuration of the sidecar in front of a service (what the engine tunes)."""

    concurrency: int = 1024  # in-flight cap at the sidecar (Envoy's circuit-breaker max_requests default)
    eject_after: int = 5  # consecutive failures that eject an endpoint (Envoy's consecutive_5xx default)
    eject_time: float = 30.0  # base ejection time, seconds (Envoy's base_ejection_time default)
    attempts: int = 3  # tries per call including the first (a common gRPC retry policy)
    retry_budget: float = 1.0  # retries / calls allowed over the last second (1.0: effectively unlimited)
    cache_ttl: float = 30.0  # seconds a cached read is served
    canary_weight: float = -1.0  # share (0..1) of calls routed to the non-first group; -1: the scenario's weights
    lb: str = "round_robin"

    def __post_init__(self) -> None:
        if self.lb not in LB_POLICIES:
            raise ValueError(f"lb: unknown policy {self.lb!r} (known: {', '.join(LB_POLICIES)})")


NUMERIC = ("concurrency", "eject_after", "eject_time", "attempts", "retry_budget", "cache_ttl", "canary_weight")


@dataclass(frozen=True, slots=True)
class Bounds:
    """Operator bounds: every parameter stays within [low, high]; `step` caps one change's size."""

    concurrency: tuple[float, float] = (8, 2048)
    eject_after: tuple[float, float] = (2, 50)
    eject_time: tuple[float, float] = (5.0, 120.0)
    attempts: tuple[float, float] = (1, 4)
    retry_budget: tuple[float, float] = (0.0, 1.0)
    cache_ttl: tuple[float, float] = (0.0, 120.0)
    canary_weight: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            low, high = getattr(self, f.name)
            if not low <= high:
                raise ValueError(f"bounds.{f.name}: low {low} is above high {high}")

    def clamp(self, p: Params) -> Params:
        """`p` with every numeric parameter moved inside its bounds (canary_weight -1 stays: "unset")."""
        changes: dict[str, float | int] = {}
        for name in NUMERIC:
            value = getattr(p, name)
            if name == "canary_weight" and value < 0:
                continue
            low, high = getattr(self, name)
            v = min(max(value, low), high)
            changes[name] = round(v) if isinstance(getattr(Params(), name), int) else float(v)
        return replace(p, **changes)  # type: ignore[arg-type]

    def contains(self, p: Params) -> bool:
        for name in NUMERIC:
            value = getattr(p, name)
            if name == "canary_weight" and value < 0:
                continue
            low, high = getattr(self, name)
            if not low <= value <= high:
                return False
        return True


DEFAULT = Params()
