"""The sidecar policy a configuration of the tuned parameters means, and back (pure).

`policy(sc, params, addresses)` is the mesh's own policy (YAML/dict form, as `apex policy` and the
control plane take it) for one sidecar in front of the scenario's endpoints, on its inbound
listener and route table (as an inbound sidecar in front of a service: what the tuning engine tunes
by default):

- one cluster per endpoint group (`<group>`), the route split between groups by `canary_weight`
  (the last group is the canary) or the scenario's `routes`;
- per cluster: the balancer (`lb`), the concurrency cap (`concurrency` → `limits.max_requests`,
  rejecting with RESOURCE_EXHAUSTED, which is not retried), outlier ejection (`eject_after`
  consecutive failures, `eject_time` base ejection time, at most half the endpoints, as the simulator);
- on the route: the deadline (`slo.deadline`), retries (`attempts`, per-try timeout `slo.try_timeout`,
  25 ms backoff, on UNAVAILABLE and per-try timeouts) under a budget (`retry_budget` x calls + 3/s over 1 s);
- a cache rule on Echo/Unary with `cache_ttl` when the scenario has a cache (none at TTL 0).

`adaptive=True` adds the sidecar's adaptive concurrency limit (layers/limits/gradient.py: Gradient2
style) to every cluster: the "gradient2" baseline on real processes. `params_of` reads a policy back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engines.tune.params import DEFAULT, Params
from engines.tune.scenario import Scenario

METHOD = "/apex.mesh.v1.Echo/Unary"
BUDGET_MIN = 3.0  # retries per second always allowed (the simulator's BUDGET_MIN)
WEIGHT_SCALE = 1000  # route weights are integers: shares in thousandths


def groups(sc: Scenario) -> list[str]:
    order = [e.group for e in sc.endpoints]
    return sorted(set(order), key=order.index)


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000, 3):g}ms"


def group_weights(sc: Scenario, params: Params) -> dict[str, int]:
    names = groups(sc)
    if len(names) == 1:
        return {names[0]: WEIGHT_SCALE}
    if params.canary_weight >= 0:
        rest = (1.0 - params.canary_weight) / (len(names) - 1)
        shares = {g: rest for g in names[:-1]} | {names[-1]: params.canary_weight}
    elif sc.routes:
        routes = dict(sc.routes)
        total = sum(routes.values())
        shares = {g: routes.get(g, 0.0) / total for g in names}
    else:
        shares = {g: 1.0 / len(names) for g in names}
    return {g: round(s * WEIGHT_SCALE) for g, s in shares.items()}


def policy(sc: Scenario, params: Params, addresses: list[str], *, adaptive: bool = False,
           version: str = "scenario") -> dict[str, Any]:  # fmt: skip
    if len(addresses) != len(sc.endpoints):
        raise ValueError(f"{len(sc.endpoints)} endpoints in the scenario, {len(addresses)} addresses given")
    clusters = []
    for g in groups(sc):
        cluster: dict[str, Any] = {
            "name": g,
            "endpoints": [{"address": a} for a, e in zip(addresses, sc.endpoints, strict=True) if e.group == g],
            "load_balancer": {params.lb: {}},
            "limits": {"max_requests": params.concurrency, "reject_code": "RESOURCE_EXHAUSTED"},
            "outlier_detection": {
                "consecutive_failures": params.eject_after,
                "base_ejection_time": _ms(params.eject_time),
                "max_ejection_percent": 50,
                "interval": "1s",
            },
        }
        if adaptive:
            cluster["adaptive_concurrency"] = {"reject_code": "RESOURCE_EXHAUSTED"}
        clusters.append(cluster)
    weights = group_weights(sc, params)
    route: dict[str, Any] = {"name": "scenario", "timeout": _ms(sc.slo.deadline)}
    if len(weights) == 1:
        route["cluster"] = next(iter(weights))
    else:
        route["clusters"] = [{"cluster": g, "weight": w} for g, w in weights.items()]
    route["retry"] = {
        "max_attempts": params.attempts,
        "retry_on": ["UNAVAILABLE"],
        "idempotent_methods": ["Unary"],
        "per_try_timeout": _ms(sc.slo.try_timeout),
        "backoff_base": "25ms",
        "budget": {"retry_percent": round(100 * params.retry_budget, 3), "min_retries_per_second": BUDGET_MIN,
                   "ttl": "1s"},
    }  # fmt: skip
    out: dict[str, Any] = {
        "version": version,
        "route_tables": [{"name": "inbound", "routes": [route]}],
        "clusters": clusters,
    }
    if sc.cache is not None and params.cache_ttl > 0:
        out["cache"] = [{"name": "scenario-reads", "method": METHOD, "ttl": _ms(params.cache_ttl),
                         "listeners": ["inbound"]}]  # fmt: skip
    return out


def _seconds(value: Any) -> float:
    """A Duration as MessageToDict writes it ("0.025s") or as this module writes it ("25ms")."""
    text = str(value)
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s"))


def params_of(sc: Scenario, pol: dict[str, Any]) -> Params:
    """The tuned parameters a policy (dict form, proto field names) holds; absent fields keep the defaults."""
    p = DEFAULT
    clusters = pol.get("clusters", [])
    if clusters:
        c = clusters[0]
        lb = next(iter(c.get("load_balancer", {}) or {"round_robin": {}}), "round_robin")
        limits = c.get("limits", {})
        outlier = c.get("outlier_detection", {})
        p = replace(
            p,
            lb=lb if lb in ("round_robin", "least_request", "peak_ewma") else DEFAULT.lb,
            concurrency=int(limits.get("max_requests", DEFAULT.concurrency)),
            eject_after=int(outlier.get("consecutive_failures", DEFAULT.eject_after)),
            eject_time=_seconds(outlier.get("base_ejection_time", f"{DEFAULT.eject_time}s")),
        )
    routes = [r for t in pol.get("route_tables", []) for r in t.get("routes", [])]
    if routes:
        r = routes[0]
        retry = r.get("retry")
        if retry:
            budget = retry.get("budget", {})
            p = replace(p, attempts=int(retry.get("max_attempts", 2)),
                        retry_budget=float(budget.get("retry_percent", 20.0)) / 100)  # fmt: skip
        else:
            p = replace(p, attempts=1)
        weighted = r.get("clusters", [])
        if len(weighted) > 1:
            total = sum(int(w.get("weight", 0)) for w in weighted)
            last = groups(sc)[-1]
            share = sum(int(w.get("weight", 0)) for w in weighted if w.get("cluster") == last)
            p = replace(p, canary_weight=share / total if total else 0.0)
    if sc.cache is not None:
        rules = pol.get("cache", [])
        p = replace(p, cache_ttl=_seconds(rules[0]["ttl"]) if rules else 0.0)
    return p
