"""The tuned parameters on a real policy (pure): read them from a Policy, write a change as patch edits.

Which fields each parameter is (for the routes of the tuned route tables — the inbound ones by
default — and the clusters those routes use):

| parameter      | policy field(s)                                                            |
|----------------|----------------------------------------------------------------------------|
| concurrency    | clusters[c].limits.max_requests; clusters[c].adaptive_concurrency.max_limit if it has one |
| eject_after    | clusters[c].outlier_detection.consecutive_failures (clusters with outlier detection) |
| attempts       | route_tables[t].routes[r].retry.max_attempts (routes with a retry policy)  |
| retry_budget   | route_tables[t].routes[r].retry.budget.retry_percent (x 100)               |
| cache_ttl      | cache[n].ttl (every cache rule)                                            |
| canary_weight  | route_tables[t].routes[r].clusters[last].weight, the others scaled to the rest (routes that split) |
| lb             | clusters[c].load_balancer (round_robin / least_request / peak_ewma)        |

`read` gives the current values (the first target's where several exist; an unset cap reads as
the Params default) and which parameters the policy has at all (`available`: a parameter whose
fields are absent — no retry policy, no cache rule, no split, no outlier detection — is not tuned:
adding one would change what the service does, not how well). `edits(policy, before, after)`
lists the (path, YAML value) edits of a change and `apply` makes them with engines.control.patch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from apex.mesh.v1 import config_pb2

from engines.control import patch
from engines.tune.params import Params

WEIGHT_SCALE = 1000  # route weights are integers: a share is written in thousandths


@dataclass(frozen=True, slots=True)
class Targets:
    routes: tuple[tuple[str, str], ...]  # (route table, route name) of the tuned routes
    clusters: tuple[str, ...]  # clusters those routes use
    retry_routes: tuple[tuple[str, str], ...]
    split_routes: tuple[tuple[str, str], ...]
    outlier_clusters: tuple[str, ...]
    cache_rules: tuple[str, ...]


def targets(policy: config_pb2.Policy, tables: Iterable[str] = ("inbound",)) -> Targets:
    wanted = set(tables)
    routes, retry, split, used = [], [], [], []
    for t in policy.route_tables:
        if t.name not in wanted:
            continue
        for r in t.routes:
            routes.append((t.name, r.name))
            if r.HasField("retry"):
                retry.append((t.name, r.name))
            if len(r.clusters) >= 2:
                split.append((t.name, r.name))
            for c in [r.cluster, *(w.cluster for w in r.clusters)]:
                if c and c not in used:
                    used.append(c)
    known = {c.name: c for c in policy.clusters}
    clusters = tuple(c for c in used if c in known)
    outlier = tuple(c for c in clusters if known[c].HasField("outlier_detection"))
    rules = tuple(rule.name for rule in policy.cache if rule.name)
    return Targets(tuple(routes), clusters, tuple(retry), tuple(split), outlier, rules)


def _route(policy: config_pb2.Policy, table: str, name: str) -> config_pb2.Route:
    t = next(t for t in policy.route_tables if t.name == table)
    return next(r for r in t.routes if r.name == name)


def _cluster(policy: config_pb2.Policy, name: str) -> config_pb2.Cluster:
    return next(c for c in policy.clusters if c.name == name)


def available(t: Targets) -> frozenset[str]:
    out = set()
    if t.clusters:
        out.update({"concurrency", "lb"})
    if t.outlier_clusters:
        out.add("eject_after")
    if t.retry_routes:
        out.update({"attempts", "retry_budget"})
    if t.cache_rules:
        out.add("cache_ttl")
    if t.split_routes:
        out.add("canary_weight")
    return frozenset(out)


def read(policy: config_pb2.Policy, t: Targets) -> Params:
    """The current parameters (Params defaults where the policy leaves a parameter unset)."""
    values: dict[str, object] = {}
    if t.clusters:
        c = _cluster(policy, t.clusters[0])
        if c.HasField("adaptive_concurrency"):
            ac = c.adaptive_concurrency
            values["concurrency"] = ac.max_limit if ac.HasField("max_limit") else 1000
        elif c.limits.HasField("max_requests"):
            values["concurrency"] = c.limits.max_requests
        which = c.load_balancer.WhichOneof("policy")
        values["lb"] = which or "round_robin"
    if t.outlier_clusters:
        od = _cluster(policy, t.outlier_clusters[0]).outlier_detection
        values["eject_after"] = od.consecutive_failures if od.HasField("consecutive_failures") else 5
        if od.HasField("base_ejection_time"):
            values["eject_time"] = od.base_ejection_time.ToTimedelta().total_seconds()
    if t.retry_routes:
        rp = _route(policy, *t.retry_routes[0]).retry
        values["attempts"] = rp.max_attempts or 2
        values["retry_budget"] = rp.budget.retry_percent / 100.0 if rp.budget.HasField("retry_percent") else 0.2
    if t.cache_rules:
        rule = next(r for r in policy.cache if r.name == t.cache_rules[0])
        values["cache_ttl"] = rule.ttl.ToTimedelta().total_seconds()
    if t.split_routes:
        weights = [w.weight for w in _route(policy, *t.split_routes[0]).clusters]
        values["canary_weight"] = weights[-1] / sum(weights) if sum(weights) else 0.0
    return replace(Params(), **values)  # type: ignore[arg-type]


def _seconds(x: float) -> str:
    return f"{x:.3f}s".replace(".000s", "s")


def edits(policy: config_pb2.Policy, t: Targets, before: Params, after: Params) -> list[tuple[str, str]]:
    """(path, YAML value) for every field a change from `before` to `after` touches."""
    out: list[tuple[str, str]] = []
    if after.concurrency != before.concurrency:
        for name in t.clusters:
            c = _cluster(policy, name)
            field = "adaptive_concurrency.max_limit" if c.HasField("adaptive_concurrency") else "limits.max_requests"
            out.append((f"clusters[{name}].{field}", str(int(after.concurrency))))
    if after.lb != before.lb:
        for name in t.clusters:
            lb = _cluster(policy, name).load_balancer
            panic = f", panic_threshold: {lb.panic_threshold:g}" if lb.HasField("panic_threshold") else ""
            out.append((f"clusters[{name}].load_balancer", f"{{{after.lb}: {{}}{panic}}}"))
    if after.eject_after != before.eject_after:
        for name in t.outlier_clusters:
            out.append((f"clusters[{name}].outlier_detection.consecutive_failures", str(int(after.eject_after))))
    if after.eject_time != before.eject_time:
        for name in t.outlier_clusters:
            out.append((f"clusters[{name}].outlier_detection.base_ejection_time", _seconds(after.eject_time)))
    for table, route in t.retry_routes:
        base = f"route_tables[{table}].routes[{route}].retry"
        if after.attempts != before.attempts:
            out.append((f"{base}.max_attempts", str(int(after.attempts))))
        if after.retry_budget != before.retry_budget:
            out.append((f"{base}.budget.retry_percent", f"{after.retry_budget * 100:g}"))
    if after.cache_ttl != before.cache_ttl:
        for rule in t.cache_rules:
            out.append((f"cache[{rule}].ttl", _seconds(after.cache_ttl)))
    if after.canary_weight != before.canary_weight and after.canary_weight >= 0:
        for table, route in t.split_routes:
            ws = [w.weight for w in _route(policy, table, route).clusters]
            share = min(max(after.canary_weight, 0.0), 1.0)
            last = round(WEIGHT_SCALE * share)
            rest = WEIGHT_SCALE - last
            others = sum(ws[:-1])
            new = [round(rest * w / others) if others else rest // max(len(ws) - 1, 1) for w in ws[:-1]] + [last]
            for i, w in enumerate(new):
                out.append((f"route_tables[{table}].routes[{route}].clusters[{i}].weight", str(int(w))))
    return out


def apply(policy: config_pb2.Policy, changes: list[tuple[str, str]]) -> config_pb2.Policy:
    """A copy of `policy` with the edits made (engines.control.patch; PatchError names a bad one)."""
    out = config_pb2.Policy()
    out.CopyFrom(policy)
    for path, value in changes:
        patch.apply(out, path, value)
    return out
