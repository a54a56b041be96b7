"""The three readers of refusals (apex stat, the tuner, the forecaster) on one window holding every kind.

Each kind gets a distinct power of two, so a sum names exactly the counters it took: `apex stat`
takes every kind, the tuner load shedding, retry budget and no endpoint, the forecaster load
shedding only (the docstrings of golden.REJECTION_KINDS, observe.REJECTION_KINDS and
samples.REJECTION_KINDS say why). Shadow-mode counters and another listener's cluster count nowhere.
"""

from __future__ import annotations

from apex.mesh.contract.refusals import Refusal
from apex.mesh.v1 import telemetry_pb2

from engines.ingest import samples
from engines.tune import observe
from sidecar.telemetry import golden

ROUTE = {"rate_limited": 1, "budget_exhausted": 2, "authn_rejected_expired": 4, "authz_denied": 8,
         "rate_limited_shadow": 1000, "budget_would_exhaust": 1000, "authz_shadow_would_deny": 1000,
         "retries": 3}  # fmt: skip
LOCAL = {"caps_rejected_max_requests": 16, "caps_pending_timeouts": 32, "adaptive_rejected": 64,
         "balancer_no_endpoint": 128, "caps_shadow_would_reject_max_pending": 1000,
         "adaptive_shadow_would_reject": 1000, "caps_pending_cancelled": 1000}  # fmt: skip


def window() -> telemetry_pb2.TelemetryWindow:
    w = telemetry_pb2.TelemetryWindow(service="svc", instance="svc-1", sequence=1)
    w.window_start.FromSeconds(100)
    w.window.FromSeconds(1)
    r = w.routes.add(listener="inbound", route="r1", cluster="local")
    r.stats.calls = r.stats.errors = 15  # the route-level refusals answered errors
    r.stats.counters.update(ROUTE)
    w.routes.add(listener="outbound", route="up", cluster="upstream").stats.calls = 1
    w.clusters.add(name="local").stats.counters.update(LOCAL)
    w.clusters.add(name="upstream").stats.counters["caps_rejected_max_requests"] = 5000  # the outbound side's
    return w


def test_apex_stat_counts_every_kind_and_splits_it() -> None:
    rows = {r.key: r for r in golden.rows([window()], "service", since=100.0, now=102.0)}
    inbound = rows[("svc", "inbound")].as_dict("service")
    assert inbound["rejections"] == 255
    assert inbound["rejections_by_kind"] == {"authn": 4, "authz": 8, "load_shed": 1 + 16 + 32 + 64,
                                             "no_endpoint": 128, "retry_budget": 2}  # fmt: skip
    assert inbound["retries"] == 3
    assert rows[("svc", "outbound")].rejections == 5000
    [route] = [r for r in golden.rows([window()], "route", since=100.0, now=102.0) if r.key[1] == "inbound"]
    assert route.rejections == 15  # a route row has its route's counters only (clusters may be shared)
    [cluster] = [r for r in golden.rows([window()], "cluster", since=100.0, now=102.0) if r.key[1] == "local"]
    assert cluster.rejections == 16 + 32 + 64 + 128


def test_tuner_penalises_what_its_knobs_cause() -> None:
    assert {Refusal.LOAD_SHED, Refusal.RETRY_BUDGET, Refusal.NO_ENDPOINT} == observe.REJECTION_KINDS
    s = observe.stats(window(), frozenset({"inbound"}), slo=0.1)
    assert s.rejected == 1 + 2 + 16 + 32 + 64 + 128 and s.retries == 3


def test_forecaster_counts_load_shedding_only() -> None:
    assert {Refusal.LOAD_SHED} == samples.REJECTION_KINDS
    got = samples.window_samples(window(), frozenset({"inbound"}))
    assert got["svc"].rejections == 1 + 16 + 32 + 64  # the route's rate limit and its cluster's caps/limit
    assert got["svc/inbound:r1"].rejections == 1
    assert got["svc#local"].rejections == 16 + 32 + 64
    assert got["svc#upstream"].rejections == 5000
