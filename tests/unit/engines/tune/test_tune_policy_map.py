"""The tuned parameters on real policies: which fields, read back what was written, only what the policy has."""

from __future__ import annotations

from dataclasses import replace

import pytest
from apex.mesh.v1 import config_pb2

from engines.control.patch import PatchError
from engines.tune import policy_map as pm
from engines.tune.params import Params
from sidecar.config.yaml_proto import fill
from sidecar.policy import convert


def policy(data: dict[str, object]) -> config_pb2.Policy:
    return fill(config_pb2.Policy(), data, "policy")


FULL = {
    "route_tables": [
        {"name": "inbound", "routes": [
            {"name": "local", "clusters": [{"cluster": "v1", "weight": 90}, {"cluster": "v2", "weight": 10}],
             "retry": {"max_attempts": 3, "idempotent_methods": ["*"], "budget": {"retry_percent": 20}}}]},
        {"name": "outbound", "routes": [{"name": "out", "cluster": "other"}]},
    ],
    "clusters": [
        {"name": "v1", "endpoints": [{"address": "127.0.0.1:1"}], "limits": {"max_requests": 100},
         "outlier_detection": {"consecutive_failures": 7, "base_ejection_time": "10s"},
         "load_balancer": {"round_robin": {}, "panic_threshold": 40}},
        {"name": "v2", "endpoints": [{"address": "127.0.0.1:2"}], "adaptive_concurrency": {"max_limit": 300}},
        {"name": "other", "endpoints": [{"address": "127.0.0.1:3"}], "limits": {"max_requests": 5}},
    ],
    "cache": [{"name": "get", "method": "/shop.Shop/Get", "ttl": "5s"}],
}  # fmt: skip


def test_read_every_parameter_from_the_inbound_side() -> None:
    p = policy(FULL)
    t = pm.targets(p)
    assert t.clusters == ("v1", "v2") and t.split_routes == (("inbound", "local"),)
    assert pm.available(t) == {"concurrency", "lb", "eject_after", "attempts", "retry_budget", "cache_ttl",
                               "canary_weight"}  # fmt: skip
    got = pm.read(p, t)
    assert got == Params(concurrency=100, eject_after=7, eject_time=10.0, attempts=3, retry_budget=0.2,
                         cache_ttl=5.0, canary_weight=0.1, lb="round_robin")  # fmt: skip


def test_a_change_is_written_to_its_fields_and_reads_back_and_the_sidecar_accepts_it() -> None:
    p = policy(FULL)
    t = pm.targets(p)
    before = pm.read(p, t)
    after = replace(before, concurrency=60, eject_after=4, attempts=2, retry_budget=0.4, cache_ttl=2.5,
                    canary_weight=0.25, lb="peak_ewma")  # fmt: skip
    edits = dict(pm.edits(p, t, before, after))
    assert edits["clusters[v1].limits.max_requests"] == "60"
    assert edits["clusters[v2].adaptive_concurrency.max_limit"] == "60"  # the adaptive limit's ceiling
    assert "clusters[other].limits.max_requests" not in edits  # the outbound side is not tuned
    assert edits["route_tables[inbound].routes[local].retry.budget.retry_percent"] == "40"
    new = pm.apply(p, list(edits.items()))
    assert pm.read(new, pm.targets(new)) == after
    assert new.clusters[0].load_balancer.panic_threshold == 40  # kept across the balancer switch
    assert [w.weight for w in new.route_tables[0].routes[0].clusters] == [750, 250]
    assert p.clusters[0].limits.max_requests == 100  # the input policy is untouched
    convert.policy(new)  # valid for the sidecar (raises ConfigError otherwise)


def test_parameters_a_policy_lacks_are_not_available() -> None:
    p = policy({"route_tables": [{"name": "inbound", "routes": [{"name": "r", "cluster": "c"}]}],
                "clusters": [{"name": "c", "endpoints": [{"address": "127.0.0.1:1"}]}]})  # fmt: skip
    t = pm.targets(p)
    assert pm.available(t) == {"concurrency", "lb"}
    current = pm.read(p, t)
    assert current == Params()  # no cap set: the default stands in
    assert pm.edits(p, t, current, replace(current, attempts=1, cache_ttl=1.0)) == []  # nothing to write
    assert pm.edits(p, t, current, replace(current, concurrency=64)) == [("clusters[c].limits.max_requests", "64")]
    assert pm.available(pm.targets(p, ["outbound"])) == frozenset()


def test_a_bad_edit_names_its_path() -> None:
    with pytest.raises(PatchError, match=r"clusters\[nope\]"):
        pm.apply(policy(FULL), [("clusters[nope].limits.max_requests", "3")])
