"""Which telemetry counters mean "the mesh refused the call", and of what kind (one table for sidecar and engines).

A layer that refuses a call counts it once, under its own name (docs/observability.md, "Names");
the same name reaches the admin API, /metrics and the telemetry windows. `kind(name)` says what a
window counter means:

- `LOAD_SHED`: refused to protect capacity — `caps_rejected_<max_requests|max_pending|max_retries>`,
  `caps_pending_timeouts` (a queued call whose wait ran out: refused with the cap's code),
  `adaptive_rejected` (adaptive concurrency), `rate_limited` (local rate limit);
- `RETRY_BUDGET`: `budget_exhausted` (a retry the budget refused: the call ends with its last
  attempt's status);
- `NO_ENDPOINT`: `balancer_no_endpoint` (UNAVAILABLE: no endpoint resolved, or all ejected/unhealthy);
- `AUTHN`: `authn_rejected_<reason>` (UNAUTHENTICATED: a JWT missing or invalid);
- `AUTHZ`: `authz_denied`, `authz_denied_default` (PERMISSION_DENIED by an authorization policy).

Every other counter the layers emit is listed as known and not a refusal: shadow mode refuses
nothing (`*_shadow_would_*`, `rate_limited_shadow`, `budget_would_exhaust`), `fault_aborts` are
injected failures, timeouts are failures, `caps_pending_cancelled` is the caller giving up.
`known(name)` is False for a name outside both lists (an older or newer sidecar's): consumers
ignore such names; tests/unit/contract/test_refusals.py derives the names the layers can emit from
their code and fails on any this table does not know.

mTLS peer-check refusals happen in the transport before any route exists, so no window counts
them: they are on /metrics (`apex_mtls_rejected_total`) and in `apex admin security`.

Consumers pick the kinds they sum, each saying why (`refused(counters, kinds)`): `apex stat`
all of them, the tuner what its knobs cause, the forecaster load shedding only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache


class Refusal(enum.Enum):
    LOAD_SHED = "load_shed"
    RETRY_BUDGET = "retry_budget"
    NO_ENDPOINT = "no_endpoint"
    AUTHN = "authn"
    AUTHZ = "authz"


ALL: frozenset[Refusal] = frozenset(Refusal)

REFUSALS: Mapping[str, Refusal] = {
    "caps_pending_timeouts": Refusal.LOAD_SHED,
    "adaptive_rejected": Refusal.LOAD_SHED,
    "rate_limited": Refusal.LOAD_SHED,
    "budget_exhausted": Refusal.RETRY_BUDGET,
    "balancer_no_endpoint": Refusal.NO_ENDPOINT,
    "authz_denied": Refusal.AUTHZ,
    "authz_denied_default": Refusal.AUTHZ,
}
# Families named `<prefix><value>` where the value is a bounded set (a cap, a reason, a cluster name).
# None: known, not a refusal.
FAMILIES: tuple[tuple[str, Refusal | None], ...] = (
    ("caps_rejected_", Refusal.LOAD_SHED),
    ("authn_rejected_", Refusal.AUTHN),
    ("caps_shadow_would_reject_", None),
    ("outlier_ejections_", None),
    ("outlier_shadow_would_ejections_", None),
    ("split:", None),
)
NOT_REFUSALS: frozenset[str] = frozenset({
    # route decisions (RouteDecisionCounters)
    "header_overrides", "fallbacks", "timeouts", "per_try_timeouts", "retries", "retries_succeeded",
    "budget_would_exhaust", "not_retried_committed", "not_retried_non_idempotent", "rate_limited_shadow",
    "fault_delays", "fault_aborts",
    # request authentication and authorization
    "authn_accepted", "authn_no_token", "authz_allowed", "authz_shadow_would_deny", "authz_shadow_would_allow",
    # cluster mechanisms
    "balancer_panic_picks",
    "caps_admitted", "caps_queued", "caps_dequeued", "caps_pending_cancelled", "caps_shadow_would_queue",
    "adaptive_admitted", "adaptive_shadow_would_reject", "adaptive_updates", "adaptive_empty_windows",
    "adaptive_baseline_held", "adaptive_baseline_relearned",
    "outlier_ejections", "outlier_shadow_would_ejections", "outlier_readmissions",
    "outlier_shadow_would_readmissions", "outlier_eject_skipped_max_percent",
    "outlier_shadow_would_eject_skipped_max_percent", "outlier_half_opened", "outlier_probes",
    "outlier_probe_failures", "outlier_successes", "outlier_failures",
    "health_checks_passed", "health_checks_failed", "health_marked_healthy", "health_marked_unhealthy",
    "health_shadow_would_marked_healthy", "health_shadow_would_marked_unhealthy",
    # response cache
    "cache_hits", "cache_misses", "cache_coalesced", "cache_stale_while_revalidate", "cache_stale_if_error",
    "cache_bypasses", "cache_stores", "cache_not_stored", "cache_revalidations",
})  # fmt: skip


@lru_cache(maxsize=4096)
def _lookup(name: str) -> tuple[bool, Refusal | None]:
    if name in REFUSALS:
        return True, REFUSALS[name]
    if name in NOT_REFUSALS:
        return True, None
    for prefix, kind in FAMILIES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return True, kind
    return False, None


def kind(name: str) -> Refusal | None:
    """The refusal a counter counts; None when it counts something else (or is unknown)."""
    return _lookup(name)[1]


def known(name: str) -> bool:
    """Whether `name` is a counter this table classifies (as a refusal or not)."""
    return _lookup(name)[0]


def refused(counters: Mapping[str, int], kinds: AbstractSet[Refusal]) -> int:
    """Calls refused for one of `kinds`, summed over `counters` (name -> count)."""
    total = 0
    for name, n in counters.items():
        k = _lookup(name)[1]
        if k is not None and k in kinds:
            total += n
    return total


def by_kind(counters: Mapping[str, int]) -> dict[Refusal, int]:
    """Refused calls per kind (kinds with none left out)."""
    out: dict[Refusal, int] = {}
    for name, n in counters.items():
        k = _lookup(name)[1]
        if k is not None and n:
            out[k] = out.get(k, 0) + n
    return out
