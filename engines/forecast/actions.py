"""Preventive policy actions for predictions, their revert, rate limits and audit reasons (pure).

`facts(policy, tables)` flattens what the actions touch into patch paths and YAML values (unset
optional fields read "null"). `Planner.plan(prediction, facts, now)` opens an episode per
(service, kind) — before a spike: raise concurrency caps, rate limits and cache TTLs; before a
shortage or a degradation: tighten caps, enable stale-if-error, move route weight away from a
degrading cluster — each change bounded (factors, floors, ceilings), and renews the episode while
the prediction holds. `Planner.reverts(now, current)` restores the old values once an episode's
prediction has passed (`hold_s` after its predicted time without being renewed), leaving any
field someone else changed since. At most `max_changes` changes per service per `per_s`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from apex.mesh.v1 import config_pb2

from engines.forecast.predict import DEGRADATION, SHORTAGE, SPIKE, Prediction


@dataclass(frozen=True, slots=True)
class ActionRules:
    raise_factor: float = 1.5  # caps and rate limits before a spike
    ttl_factor: float = 2.0
    max_ttl: float = 300.0  # seconds
    tighten_factor: float = 0.8  # caps before a shortage / degradation
    min_cap: int = 1
    # a cap set where there was none: Little's law at the revealed capacity, times this headroom
    # (the calls in flight at capacity with the low-load p99 are the least the service needs;
    # a cap of exactly that sheds every burst), and never below `min_new_cap`
    new_cap_headroom: float = 2.0
    min_new_cap: int = 4
    stale_if_error: float = 30.0  # seconds, set where a cache rule has none
    weight_shift: float = 0.5  # a degrading cluster keeps this share of its weight
    hold_s: float = 60.0  # seconds after the predicted time before reverting
    max_changes: int = 10  # per service per `per_s`
    per_s: float = 300.0

    def __post_init__(self) -> None:
        if self.raise_factor <= 1 or self.ttl_factor <= 1 or not 0 < self.tighten_factor < 1:
            raise ValueError("raise_factor > 1, ttl_factor > 1 and 0 < tighten_factor < 1 are required")
        if not 0 <= self.weight_shift < 1 or self.hold_s < 0 or self.max_changes < 1 or self.per_s <= 0:
            raise ValueError("0 <= weight_shift < 1, hold_s >= 0, max_changes >= 1 and per_s > 0 are required")
        if self.new_cap_headroom < 1 or self.min_new_cap < max(1, self.min_cap):
            raise ValueError("new_cap_headroom >= 1 and min_new_cap >= max(1, min_cap) are required")


@dataclass(frozen=True, slots=True)
class Facts:
    """Current values (YAML text) of the paths the actions may touch, by role."""

    ttls: dict[str, float] = field(default_factory=dict)  # cache[n].ttl -> seconds
    stale: dict[str, float] = field(default_factory=dict)  # cache[n].stale_if_error -> seconds
    caps: dict[str, int | None] = field(default_factory=dict)  # clusters[c].limits.max_requests -> cap
    rates: dict[str, float] = field(default_factory=dict)  # ...rate_limit.requests_per_second -> rps
    weights: dict[str, tuple[str, int]] = field(default_factory=dict)  # ...clusters[i].weight -> (cluster, w)

    def value(self, path: str) -> str:
        for table in (self.ttls, self.stale):
            if path in table:
                return f"{table[path]:g}s"
        if path in self.caps:
            cap = self.caps[path]
            return "null" if cap is None else str(cap)
        if path in self.rates:
            return f"{self.rates[path]:g}"
        if path in self.weights:
            return str(self.weights[path][1])
        return "null"


def facts(policy: config_pb2.Policy, tables: frozenset[str] = frozenset({"inbound"})) -> Facts:
    """The touchable fields of a policy; caps of clusters that routes of `tables` use (or all clusters)."""
    f = Facts()
    for rule in policy.cache:
        if rule.name and (not rule.HasField("enforced") or rule.enforced):
            f.ttls[f"cache[{rule.name}].ttl"] = rule.ttl.ToTimedelta().total_seconds()
            f.stale[f"cache[{rule.name}].stale_if_error"] = rule.stale_if_error.ToTimedelta().total_seconds()
    used: set[str] = set()
    for t in policy.route_tables:
        if t.name not in tables:
            continue
        for r in t.routes:
            base = f"route_tables[{t.name}].routes[{r.name}]"
            used.add(r.cluster)
            used.update(w.cluster for w in r.clusters)
            if r.HasField("rate_limit") and r.rate_limit.requests_per_second > 0:
                f.rates[f"{base}.rate_limit.requests_per_second"] = r.rate_limit.requests_per_second
            for i, w in enumerate(r.clusters):
                f.weights[f"{base}.clusters[{i}].weight"] = (w.cluster, w.weight or 1)
    for c in policy.clusters:
        if c.name in used or not used:
            limits = c.limits
            cap = limits.max_requests if limits.HasField("max_requests") else None
            f.caps[f"clusters[{c.name}].limits.max_requests"] = cap
    return f


@dataclass(frozen=True, slots=True)
class Action:
    service: str
    path: str
    value: str  # YAML text
    reason: str  # audit: the forecast that caused it
    correlation_id: str
    revert: bool = False


@dataclass
class Episode:
    correlation_id: str
    prediction: Prediction
    changes: list[tuple[str, str, str]]  # (path, old, new)
    until: float  # revert after this time unless renewed


def changes_for(p: Prediction, f: Facts, rules: ActionRules, degrading: str = "") -> list[tuple[str, str, str]]:
    """(path, old, new) for prediction `p` on a policy with facts `f`; `degrading` names a cluster."""
    out: list[tuple[str, str, str]] = []
    if p.kind == SPIKE:
        for path, cap in sorted(f.caps.items()):
            if cap is not None:
                out.append((path, str(cap), str(math.ceil(cap * rules.raise_factor))))
        for path, rps in sorted(f.rates.items()):
            out.append((path, f"{rps:g}", f"{rps * rules.raise_factor:g}"))
        for path, ttl in sorted(f.ttls.items()):
            new = min(rules.max_ttl, max(ttl, 1.0) * rules.ttl_factor)
            if new > ttl:
                out.append((path, f"{ttl:g}s", f"{new:g}s"))
        return out
    for path, cap in sorted(f.caps.items()):
        if cap is not None:
            new_cap = max(rules.min_cap, math.floor(cap * rules.tighten_factor))
            if new_cap < cap:
                out.append((path, str(cap), str(new_cap)))
        elif p.kind == SHORTAGE and "capacity" in p.evidence and "baseline_p99" in p.evidence:
            # no cap yet: Little's law at the revealed capacity and its low-load latency, with headroom
            little = p.evidence["capacity"] * p.evidence["baseline_p99"] * rules.new_cap_headroom
            little = max(rules.min_new_cap, math.ceil(little))
            out.append((path, "null", str(little)))
    for path, stale in sorted(f.stale.items()):
        if stale <= 0:
            out.append((path, "0s" if path in f.stale else "null", f"{rules.stale_if_error:g}s"))
    if p.kind == DEGRADATION and degrading:
        for path, (cluster, w) in sorted(f.weights.items()):
            if cluster == degrading and len(f.weights) > 1:
                new_w = max(0, math.floor(w * rules.weight_shift))
                if new_w < w:
                    out.append((path, str(w), str(new_w)))
    return out


def label(path: str) -> str:
    """What a patch path is, in words (for the audit reason)."""
    for suffix, name in ((".ttl", "cache TTL"), (".stale_if_error", "stale-if-error"),
                         (".max_requests", "concurrency cap"), (".requests_per_second", "rate limit"),
                         (".weight", "route weight")):  # fmt: skip
        if path.endswith(suffix):
            return name
    return path


class Planner:
    """Open, renew and revert preventive episodes; rate-limit changes per service."""

    def __init__(self, rules: ActionRules | None = None) -> None:
        self.rules = rules or ActionRules()
        self.episodes: dict[tuple[str, str], Episode] = {}
        self._recent: dict[str, deque[float]] = {}
        self.limited = 0  # changes refused by the rate limit

    def _budget(self, service: str, now: float) -> int:
        q = self._recent.setdefault(service, deque())
        while q and now - q[0] >= self.rules.per_s:
            q.popleft()
        return self.rules.max_changes - len(q)

    def _spend(self, service: str, now: float, n: int) -> None:
        self._recent.setdefault(service, deque()).extend([now] * n)

    def plan(
        self, service: str, p: Prediction, f: Facts, now: float, degrading: str = "", cid: str = ""
    ) -> list[Action]:
        """Actions for a new episode of (service, p.kind); renewing a running one changes nothing."""
        until = p.at + self.rules.hold_s
        ep = self.episodes.get((service, p.kind))
        if ep is not None:
            ep.until = max(ep.until, until)
            ep.prediction = p
            return []
        changes = changes_for(p, f, self.rules, degrading)
        if not changes:
            return []
        budget = self._budget(service, now)
        if budget < len(changes):
            self.limited += len(changes)
            return []
        self._spend(service, now, len(changes))
        cid = cid or f"{p.kind}:{service}:{int(now)}"
        self.episodes[(service, p.kind)] = Episode(cid, p, changes, until)
        return [Action(service, path, new, f"{p.message}: {label(path)} {old} -> {new} ({path}) before the {p.kind}",
                       cid) for path, old, new in changes]  # fmt: skip

    def due(self, now: float) -> list[tuple[str, str]]:
        """(service, kind) of the episodes whose prediction has passed."""
        return sorted(key for key, ep in self.episodes.items() if now > ep.until)

    def reverts(self, service: str, kind: str, current: Facts) -> list[Action]:
        """Restore the old values of an ended episode where the field still holds what it set."""
        ep = self.episodes.pop((service, kind))
        out = []
        for path, old, new in ep.changes:
            if current.value(path) != new:
                continue  # changed since by someone else: theirs stands
            what = f"{label(path)} {new} -> {old} ({path})"
            reason = f"revert: the {kind} predicted at {ep.prediction.at:.0f} has passed: {what}"
            out.append(Action(service, path, old, reason, ep.correlation_id, revert=True))
        return out
