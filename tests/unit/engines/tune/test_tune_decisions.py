"""Decision documents, audit reasons and events: every kind has its reason and priority, the evidence shows
up where docs/tuning.md says, and a change is labelled the agent's only when it moved as the agent meant."""

from __future__ import annotations

import json
from dataclasses import replace

from apex.mesh.bus import Priority
from apex.mesh.contract import tune as keys

from engines.tune.decisions import PRIORITY, Doc, agent_moved, changes, describe
from engines.tune.params import Params


def test_changes_and_their_description() -> None:
    before = Params(concurrency=100)
    after = replace(before, concurrency=60, lb="peak_ewma", cache_ttl=2.5)
    ch = changes(before, after)
    assert ch == {"concurrency": [100, 60], "cache_ttl": [30.0, 2.5], "lb": ["round_robin", "peak_ewma"]}
    assert describe(ch) == "concurrency 100 -> 60, cache_ttl 30 -> 2.5, lb round_robin -> peak_ewma"
    assert describe({}) == "no change"


def test_every_kind_has_a_priority_and_a_reason_with_its_evidence() -> None:
    assert set(PRIORITY) == set(keys.KINDS)
    assert PRIORITY["rollback"] is Priority.HIGH
    doc = Doc(5.0, "shop", "rollback", "cap_down", {"concurrency": [100, 40]}, "rollback: Welch t=-3.2, p=0.01",
              paths={"clusters[local].limits.max_requests": "40"}, version=7, stable_version=6, result_version=8,
              reward_before=0.9, reward_after=0.4, goodput_before=0.95, goodput_after=0.5, p_value=0.01,
              canary_instances=["a"])  # fmt: skip
    reason = doc.reason()
    assert reason.startswith("tuner: roll back version 7 (concurrency 100 -> 40) to version 6: rollback: Welch")
    assert "reward before 0.900 after 0.400, goodput before 0.950 after 0.500" in reason
    kind, priority, cid, message, attrs = doc.event()
    assert (kind, priority, cid, message) == ("tune.rollback", Priority.HIGH, "tune:shop:7", reason)
    assert attrs["p_value"] == "0.0100" and attrs["canary_instances"] == "a"
    assert attrs["paths"] == "clusters[local].limits.max_requests=40"
    assert json.loads(json.dumps(doc.as_dict())) == doc.as_dict()  # the stored document is plain JSON
    canary = replace(doc, kind="canary", rollout_percent=25.0, evidence="reward 0.9")
    assert canary.reason() == "tuner: canary of cap_down (concurrency 100 -> 40) to 25% of instances; reward 0.9"
    assert "promote version 7" in replace(doc, kind="promote").reason()
    assert replace(doc, kind="refused", evidence="no").reason().startswith("tuner: refused cap_down")


def test_a_change_is_the_agents_only_if_it_moved_its_parameter_its_way() -> None:
    p = Params(concurrency=100)
    assert agent_moved("cap_down", p, replace(p, concurrency=60))
    assert not agent_moved("cap_up", p, replace(p, concurrency=60))  # the gate pulled it into bounds
    assert not agent_moved("noop", p, replace(p, concurrency=60))
    assert not agent_moved("ttl_up", p, replace(p, concurrency=60))
    assert agent_moved("lb=peak_ewma", p, replace(p, lb="peak_ewma"))
