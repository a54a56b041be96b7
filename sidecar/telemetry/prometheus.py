"""Render the registry in the Prometheus text format (0.0.4), or in OpenMetrics 1.0 with exemplars.

Exemplars (trace ids of sampled calls) are only valid in OpenMetrics: `render(..., openmetrics=True)`
attaches to each route latency bucket the latest sampled call that fell in it, and to each route
response counter the latest sampled call with that method and code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from apex.mesh.contract.histogram import PROMETHEUS_BOUNDS

from sidecar.core.call import Code
from sidecar.telemetry.registry import Exemplar, MethodSeries, Registry, Series
from sidecar.telemetry.security_metrics import families as security_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def wants_openmetrics(accept: str) -> bool:
    """True when an HTTP Accept header asks for OpenMetrics (as Prometheus does when exemplars are on)."""
    return "application/openmetrics-text" in accept.lower()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Mapping[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _exemplar(exemplar: Exemplar | None) -> str:
    if exemplar is None:
        return ""
    ids = _labels({"trace_id": exemplar.trace_id, "span_id": exemplar.span_id})
    return f" # {ids} {_number(exemplar.seconds)} {exemplar.time:.3f}"


class _Family:
    def __init__(self, name: str, kind: str, help_text: str, openmetrics: bool = False) -> None:
        self.name = name
        # OpenMetrics names a counter family without its samples' `_total` suffix.
        family = name.removesuffix("_total") if openmetrics and kind == "counter" else name
        self.lines = [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
        self.openmetrics = openmetrics

    def sample(self, suffix: str, labels: Mapping[str, str], value: float, exemplar: Exemplar | None = None) -> None:
        tail = _exemplar(exemplar) if self.openmetrics else ""
        self.lines.append(f"{self.name}{suffix}{_labels(labels)} {_number(value)}{tail}")


def _series_families(
    prefix: str, what: str, items: Iterable[tuple[dict[str, str], Series, Mapping[str, int]]], om: bool = False
) -> list[_Family]:
    requests = _Family(f"{prefix}_requests_total", "counter", f"Calls started per {what}.", om)
    responses = _Family(f"{prefix}_responses_total", "counter", f"Calls finished per {what} and gRPC status code.", om)
    in_flight = _Family(f"{prefix}_in_flight", "gauge", f"Calls in flight per {what}.", om)
    latency = _Family(f"{prefix}_duration_seconds", "histogram", f"Call latency per {what}, seconds.", om)
    req_bytes = _Family(f"{prefix}_request_bytes_total", "counter", f"Request message bytes per {what}.", om)
    resp_bytes = _Family(f"{prefix}_response_bytes_total", "counter", f"Response message bytes per {what}.", om)
    decisions = _Family(
        f"{prefix}_policy_decisions_total", "counter", f"Policy-layer decisions per {what}, by name.", om
    )
    for labels, s, counters in items:
        # Calls, codes and latency per gRPC method when the series has them (routes), else as one.
        calls: list[tuple[str, dict[str, str], Series | MethodSeries]] = (
            [(m, {**labels, "method": m}, ms) for m, ms in sorted(s.methods.items())]
            if s.methods
            else [("", labels, s)]
        )
        by_code, by_bucket = s.exemplars.by_code, s.exemplars.by_bucket
        for method, call_labels, c in calls:
            requests.sample("", call_labels, c.started)
            for code, n in sorted(c.codes.items()):
                responses.sample("", {**call_labels, "code": Code(code).name}, n, by_code.get((method, code)))
        in_flight.sample("", labels, s.in_flight)
        for method, call_labels, c in calls:
            cumulative = c.latency.cumulative(PROMETHEUS_BOUNDS)
            for i, (bound, n) in enumerate(zip(PROMETHEUS_BOUNDS, cumulative, strict=True)):
                latency.sample("_bucket", {**call_labels, "le": repr(bound)}, n, by_bucket.get((method, i)))
            last = by_bucket.get((method, len(PROMETHEUS_BOUNDS)))
            latency.sample("_bucket", {**call_labels, "le": "+Inf"}, c.latency.count, last)
            latency.sample("_sum", call_labels, c.latency.sum)
            latency.sample("_count", call_labels, c.latency.count)
        req_bytes.sample("", labels, s.request_bytes)
        resp_bytes.sample("", labels, s.response_bytes)
        for name, n in sorted(counters.items()):
            decisions.sample("", {**labels, "decision": name}, n)
    return [requests, responses, in_flight, latency, req_bytes, resp_bytes, decisions]


def render(
    registry: Registry, extra: Mapping[str, tuple[str, str, float]] | None = None, *, openmetrics: bool = False
) -> str:
    """The whole exposition. `extra` adds single-sample families: name -> (type, help, value).
    `openmetrics`: OpenMetrics 1.0 text with exemplars (serve it as OPENMETRICS_CONTENT_TYPE)."""
    om = openmetrics
    registry.refresh()
    families = _series_families(
        "apex_route",
        "route",
        (
            ({"listener": k[0], "route": k[1], "cluster": k[2]}, s, registry.route_counters(k))
            for k, s in sorted(registry.routes.items())
        ),
        om,
    )
    families += _series_families(
        "apex_endpoint",
        "upstream endpoint",
        (
            ({"cluster": k[0], "endpoint": k[1]}, s, registry.endpoint_counters(k))
            for k, s in sorted(registry.endpoints.items())
        ),
        om,
    )
    cluster_decisions = _Family(
        "apex_cluster_policy_decisions_total", "counter", "Policy-layer decisions per cluster, by name.", om
    )
    for cluster, counters in sorted(registry.cluster_totals().items()):
        for name, n in sorted(counters.items()):
            cluster_decisions.sample("", {"cluster": cluster, "decision": name}, n)
    gauges = _Family("apex_cluster_gauge", "gauge", "Current values of policy layers per cluster, by name.", om)
    for cluster, current in sorted(registry.cluster_gauges.items()):
        for gauge, value in sorted(current.items()):
            gauges.sample("", {"cluster": cluster, "name": gauge}, value)
    states = _Family("apex_state", "gauge", "Current policy-layer states (1 for the state in force).", om)
    for cluster, values in sorted(registry.cluster_states.items()):
        for name, state in sorted(values.items()):
            states.sample("", {"cluster": cluster, "endpoint": "", "name": name, "state": state}, 1)
    for (cluster, endpoint), values in sorted(registry.endpoint_states.items()):
        for name, state in sorted(values.items()):
            states.sample("", {"cluster": cluster, "endpoint": endpoint, "name": name, "state": state}, 1)
    policy = _Family("apex_policy_info", "gauge", "The policy version in force (label), always 1.", om)
    policy.sample("", {"version": registry.policy_version}, 1)
    unrouted = _Family("apex_unrouted_total", "counter", "Calls that matched no route.", om)
    unrouted.sample("", {}, registry.unrouted())
    families += [cluster_decisions, gauges, states, policy, unrouted]
    for rows in security_families(registry.security):  # docs/observability.md, "Security series"
        family = _Family(rows.name, rows.kind, rows.help, om)
        for labels, amount in rows.samples:
            family.sample("", labels, amount)
        families.append(family)
    for name, (kind, help_text, number) in sorted((extra or {}).items()):
        family = _Family(name, kind, help_text, om)
        family.sample("", {}, number)
        families.append(family)
    return "\n".join(line for f in families for line in f.lines) + ("\n# EOF\n" if om else "\n")
