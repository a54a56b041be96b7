"""Per-route counters of every route-level decision (split, retries, limits, faults) for RouteAdmin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class RouteDecisions:
    """Counts kept across policy swaps; field names match RouteDecisionCounters in route_policy.proto."""

    listener: str
    route: str
    split: Counter[str] = field(default_factory=Counter)
    header_overrides: int = 0
    fallbacks: int = 0
    timeouts: int = 0
    requests: int = 0
    retries: int = 0
    retries_succeeded: int = 0
    budget_exhausted: int = 0
    budget_would_exhaust: int = 0
    not_retried_committed: int = 0
    not_retried_non_idempotent: int = 0
    rate_limited: int = 0
    rate_limited_shadow: int = 0
    fault_delays: int = 0
    fault_aborts: int = 0
    per_try_timeouts: int = 0
