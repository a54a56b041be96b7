"""Render the registry in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from apex.mesh.contract.histogram import PROMETHEUS_BOUNDS

from sidecar.core.call import Code
from sidecar.telemetry.registry import MethodSeries, Registry, Series

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, suffix: str, labels: Mapping[str, str], value: float) -> None:
        self.lines.append(f"{self.name}{suffix}{_labels(labels)} {_number(value)}")


def _series_families(
    prefix: str, what: str, items: Iterable[tuple[dict[str, str], Series, Mapping[str, int]]]
) -> list[_Family]:
    requests = _Family(f"{prefix}_requests_total", "counter", f"Calls started per {what}.")
    responses = _Family(f"{prefix}_responses_total", "counter", f"Calls finished per {what} and gRPC status code.")
    in_flight = _Family(f"{prefix}_in_flight", "gauge", f"Calls in flight per {what}.")
    latency = _Family(f"{prefix}_duration_seconds", "histogram", f"Call latency per {what}, seconds.")
    req_bytes = _Family(f"{prefix}_request_bytes_total", "counter", f"Request message bytes per {what}.")
    resp_bytes = _Family(f"{prefix}_response_bytes_total", "counter", f"Response message bytes per {what}.")
    decisions = _Family(f"{prefix}_policy_decisions_total", "counter", f"Policy-layer decisions per {what}, by name.")
    for labels, s, counters in items:
        # Calls, codes and latency per gRPC method when the series has them (routes), else as one.
        calls: list[tuple[dict[str, str], Series | MethodSeries]] = (
            [({**labels, "method": m}, ms) for m, ms in sorted(s.methods.items())] if s.methods else [(labels, s)]
        )
        for call_labels, c in calls:
            requests.sample("", call_labels, c.started)
            for code, n in sorted(c.codes.items()):
                responses.sample("", {**call_labels, "code": Code(code).name}, n)
        in_flight.sample("", labels, s.in_flight)
        for call_labels, c in calls:
            for bound, n in zip(PROMETHEUS_BOUNDS, c.latency.cumulative(PROMETHEUS_BOUNDS), strict=True):
                latency.sample("_bucket", {**call_labels, "le": repr(bound)}, n)
            latency.sample("_bucket", {**call_labels, "le": "+Inf"}, c.latency.count)
            latency.sample("_sum", call_labels, c.latency.sum)
            latency.sample("_count", call_labels, c.latency.count)
        req_bytes.sample("", labels, s.request_bytes)
        resp_bytes.sample("", labels, s.response_bytes)
        for name, n in sorted(counters.items()):
            decisions.sample("", {**labels, "decision": name}, n)
    return [requests, responses, in_flight, latency, req_bytes, resp_bytes, decisions]


def render(registry: Registry, extra: Mapping[str, tuple[str, str, float]] | None = None) -> str:
    """The whole exposition. `extra` adds single-sample families: name -> (type, help, value)."""
    registry.refresh()
    families = _series_families(
        "apex_route",
        "route",
        (
            ({"listener": k[0], "route": k[1], "cluster": k[2]}, s, registry.route_counters(k))
            for k, s in sorted(registry.routes.items())
        ),
    )
    families += _series_families(
        "apex_endpoint",
        "upstream endpoint",
        (
            ({"cluster": k[0], "endpoint": k[1]}, s, registry.endpoint_counters(k))
            for k, s in sorted(registry.endpoints.items())
        ),
    )
    cluster_decisions = _Family(
        "apex_cluster_policy_decisions_total", "counter", "Policy-layer decisions per cluster, by name."
    )
    for cluster, counters in sorted(registry.cluster_totals().items()):
        for name, n in sorted(counters.items()):
            cluster_decisions.sample("", {"cluster": cluster, "decision": name}, n)
    states = _Family("apex_state", "gauge", "Current policy-layer states (1 for the state in force).")
    for cluster, values in sorted(registry.cluster_states.items()):
        for name, state in sorted(values.items()):
            states.sample("", {"cluster": cluster, "endpoint": "", "name": name, "state": state}, 1)
    for (cluster, endpoint), values in sorted(registry.endpoint_states.items()):
        for name, state in sorted(values.items()):
            states.sample("", {"cluster": cluster, "endpoint": endpoint, "name": name, "state": state}, 1)
    policy = _Family("apex_policy_info", "gauge", "The policy version in force (label), always 1.")
    policy.sample("", {"version": registry.policy_version}, 1)
    unrouted = _Family("apex_unrouted_total", "counter", "Calls that matched no route.")
    unrouted.sample("", {}, registry.unrouted())
    families += [cluster_decisions, states, policy, unrouted]
    for name, (kind, help_text, number) in sorted((extra or {}).items()):
        family = _Family(name, kind, help_text)
        family.sample("", {}, number)
        families.append(family)
    return "\n".join(line for f in families for line in f.lines) + "\n"
