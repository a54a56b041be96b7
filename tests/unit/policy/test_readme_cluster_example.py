"""The README's cluster resilience YAML example is valid config (docs never drift from the code)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill
from sidecar.policy import convert
from sidecar.policy.cluster_model import AdaptiveConcurrencyPolicy, BalancerKind

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_cluster_example_converts() -> None:
    text = README.read_text()
    section = text[text.index("## Load balancing, circuit breaking and outlier ejection") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    policy = yaml.safe_load(block.group(1))["policy"]
    policy["route_tables"] = [{"name": "out", "routes": [{"name": "r", "cluster": "catalog"}]}]
    model = convert.policy(fill(config_pb2.Policy(), policy, "policy"))  # type: ignore[arg-type]
    cluster = model.clusters[0]
    assert cluster.load_balancer.kind is BalancerKind.ROUND_ROBIN
    assert cluster.limits is not None and cluster.limits.max_requests == 100
    assert cluster.outlier is not None and cluster.outlier.success_rate is not None
    assert cluster.health_check is not None and cluster.health_check.interval == 5.0
    assert cluster.adaptive == AdaptiveConcurrencyPolicy()  # the README shows the defaults
