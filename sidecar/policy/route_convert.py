"""Validated conversion of a Route's policy fields (split, timeout, retry, rate limit, fault).

Called from `convert.route`; every problem raises ConfigError naming the exact field path,
e.g. `policy.route_tables[0].routes[2].retry.retry_on[1]`.
"""

from __future__ import annotations

import math

from apex.mesh.v1 import config_pb2, route_policy_pb2

from sidecar.core.call import Code
from sidecar.policy import oauth2_convert
from sidecar.policy.errors import ConfigError
from sidecar.policy.fields import positive_seconds
from sidecar.policy.route_model import (
    ClusterOverride,
    Fault,
    FaultAbort,
    FaultDelay,
    RateLimit,
    RetryBudget,
    RetryPolicy,
    RoutePolicy,
    Split,
)

MAX_WEIGHT = 10_000
MAX_ATTEMPTS = 10
DEFAULT_MAX_CALLERS = 10_000


def _known(name: str, path: str, clusters: set[str]) -> str:
    if not name:
        raise ConfigError(path, "cluster is required")
    if name not in clusters:
        known = ", ".join(sorted(clusters)) or "none"
        raise ConfigError(path, f"unknown cluster {name!r} (clusters: {known})")
    return name


def _percent(value: float, path: str) -> float:
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise ConfigError(path, f"a percentage is 0..100, got {value}")
    return value


def _code(name: str, path: str) -> Code:
    code = Code.__members__.get(name.upper())
    if code is None or code is Code.OK:
        names = ", ".join(c.name for c in Code if c is not Code.OK)
        raise ConfigError(path, f"expected a non-OK status name ({names}), got {name!r}")
    return code


def _header(name: str, path: str) -> str:
    if not name:
        raise ConfigError(path, "header name is required")
    if name != name.lower() or name.startswith(":"):
        raise ConfigError(path, f"header names are lower-case metadata keys, got {name!r}")
    return name


def primary_cluster(msg: config_pb2.Route, path: str, clusters: set[str]) -> str:
    """The route's cluster: `cluster`, or the first of its split (`clusters`)."""
    if msg.cluster and msg.clusters:
        raise ConfigError(f"{path}.clusters", "set either cluster (one cluster) or clusters (a split), not both")
    if msg.clusters:
        return _known(msg.clusters[0].cluster, f"{path}.clusters[0].cluster", clusters)
    return _known(msg.cluster, f"{path}.cluster", clusters)


def split(msg: config_pb2.Route, path: str, clusters: set[str]) -> Split | None:
    if not (msg.clusters or msg.overrides or msg.fallback_cluster):
        return None
    weighted: list[tuple[str, int]] = []
    if msg.clusters:
        seen: set[str] = set()
        for i, wc in enumerate(msg.clusters):
            name = _known(wc.cluster, f"{path}.clusters[{i}].cluster", clusters)
            if name in seen:
                raise ConfigError(f"{path}.clusters[{i}].cluster", f"cluster {name!r} is listed twice")
            seen.add(name)
            if wc.weight > MAX_WEIGHT:
                raise ConfigError(f"{path}.clusters[{i}].weight", f"weight {wc.weight} is above {MAX_WEIGHT}")
            weighted.append((name, wc.weight))
        if sum(w for _, w in weighted) == 0:
            raise ConfigError(f"{path}.clusters", "at least one cluster needs a positive weight")
    else:
        weighted.append((msg.cluster, 1))
    overrides = []
    for i, ov in enumerate(msg.overrides):
        opath = f"{path}.overrides[{i}]"
        header = _header(ov.header, f"{opath}.header")
        rule = ov.WhichOneof("rule")
        if rule is None:
            raise ConfigError(opath, "one of exact or present is required")
        if rule == "present" and not ov.present:
            raise ConfigError(f"{opath}.present", "present: false matches nothing")
        cluster = _known(ov.cluster, f"{opath}.cluster", clusters)
        overrides.append(ClusterOverride(header, ov.exact if rule == "exact" else None, cluster))
    fallback = ""
    if msg.fallback_cluster:
        fallback = _known(msg.fallback_cluster, f"{path}.fallback_cluster", clusters)
    return Split(clusters=tuple(weighted), overrides=tuple(overrides), fallback=fallback)


def retry_budget(msg: route_policy_pb2.RetryBudget, path: str) -> RetryBudget:
    ratio = 20.0
    if msg.HasField("retry_percent"):
        ratio = _percent(msg.retry_percent, f"{path}.retry_percent")
    min_rate = 10.0
    if msg.HasField("min_retries_per_second"):
        min_rate = msg.min_retries_per_second
        if not math.isfinite(min_rate) or min_rate < 0:
            raise ConfigError(f"{path}.min_retries_per_second", f"must be 0 or more, got {min_rate}")
    ttl = positive_seconds(msg, "ttl", path, 10.0)
    assert ttl is not None
    if not 1.0 <= ttl <= 60.0:
        raise ConfigError(f"{path}.ttl", f"must be between 1s and 60s, got {ttl}s")
    enforced = msg.enforced if msg.HasField("enforced") else True
    return RetryBudget(ratio=ratio / 100, min_per_second=min_rate, ttl=ttl, enforced=enforced)


def retry(msg: route_policy_pb2.RetryPolicy, path: str) -> RetryPolicy:
    attempts = msg.max_attempts or 2
    if attempts > MAX_ATTEMPTS:
        raise ConfigError(f"{path}.max_attempts", f"at most {MAX_ATTEMPTS} attempts, got {attempts}")
    retry_on = frozenset(_code(n, f"{path}.retry_on[{i}]") for i, n in enumerate(msg.retry_on)) or frozenset(
        {Code.UNAVAILABLE}
    )
    base = positive_seconds(msg, "backoff_base", path, 0.025)
    top = positive_seconds(msg, "backoff_max", path, max(0.25, base or 0.0))
    assert base is not None and top is not None
    if top < base:
        raise ConfigError(f"{path}.backoff_max", f"must be at least backoff_base ({base}s), got {top}s")
    methods = tuple(msg.idempotent_methods)
    for i, m in enumerate(methods):
        if not m or (m.startswith("/") and m.count("/") != 2):
            raise ConfigError(
                f"{path}.idempotent_methods[{i}]", f"expected 'Method', '/pkg.Service/Method' or a glob, got {m!r}"
            )
    if not methods and not msg.retry_non_idempotent:
        raise ConfigError(
            f"{path}.idempotent_methods",
            "the policy would retry nothing: list idempotent_methods (e.g. ['*'] or ['Get*']) "
            "or set retry_non_idempotent: true",
        )
    return RetryPolicy(
        max_attempts=attempts,
        retry_on=retry_on,
        backoff_base=base,
        backoff_max=top,
        per_try_timeout=positive_seconds(msg, "per_try_timeout", path, None),
        idempotent_methods=methods,
        retry_non_idempotent=msg.retry_non_idempotent,
        budget=retry_budget(msg.budget, f"{path}.budget"),
    )


def rate_limit(msg: route_policy_pb2.RateLimit, path: str) -> RateLimit:
    rate = msg.requests_per_second
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigError(f"{path}.requests_per_second", f"must be positive, got {rate}")
    burst = msg.burst or max(1, math.ceil(rate))
    per_header = _header(msg.per_header, f"{path}.per_header") if msg.per_header else ""
    return RateLimit(
        rate=rate,
        burst=burst,
        per_header=per_header,
        max_callers=msg.max_callers or DEFAULT_MAX_CALLERS,
        enforced=msg.enforced if msg.HasField("enforced") else True,
    )


def fault(msg: route_policy_pb2.Fault, path: str) -> Fault | None:
    delay = abort = None
    if msg.HasField("delay"):
        dpath = f"{path}.delay"
        duration = positive_seconds(msg.delay, "duration", dpath, None)
        if duration is None:
            raise ConfigError(f"{dpath}.duration", "a delay fault needs a duration")
        delay = FaultDelay(_percent(msg.delay.percent, f"{dpath}.percent"), duration)
    if msg.HasField("abort"):
        apath = f"{path}.abort"
        abort = FaultAbort(_percent(msg.abort.percent, f"{apath}.percent"), _code(msg.abort.code, f"{apath}.code"))
    if delay is None and abort is None:
        return None
    return Fault(delay=delay, abort=abort)


def route_policy(msg: config_pb2.Route, path: str, clusters: set[str]) -> RoutePolicy:
    """The route's policy fields (10-29) as a RoutePolicy; parts not configured stay None."""
    return RoutePolicy(
        split=split(msg, path, clusters),
        timeout=positive_seconds(msg, "timeout", path, None),
        retry=retry(msg.retry, f"{path}.retry") if msg.HasField("retry") else None,
        rate_limit=rate_limit(msg.rate_limit, f"{path}.rate_limit") if msg.HasField("rate_limit") else None,
        fault=fault(msg.fault, f"{path}.fault") if msg.HasField("fault") else None,
        oauth2=oauth2_convert.oauth2(msg.oauth2, f"{path}.oauth2") if msg.HasField("oauth2") else None,
    )
