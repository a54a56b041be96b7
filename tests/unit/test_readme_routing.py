"""The README's routing YAML examples are valid configuration (docs cannot drift from the code)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sidecar.config.bootstrap import parse_yaml, validate

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Routing, retries, timeouts, rate limits and faults")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_policy_example_validates() -> None:
    block = re.search(r"```yaml\n(.*?)```", _section(), re.S)
    assert block is not None
    data = yaml.safe_load(block.group(1))
    names = {r.get("cluster") for t in data["policy"]["route_tables"] for r in t["routes"]}
    names |= {c["cluster"] for t in data["policy"]["route_tables"] for r in t["routes"] for c in r.get("clusters", [])}
    names |= {
        r["fallback_cluster"] for t in data["policy"]["route_tables"] for r in t["routes"] if "fallback_cluster" in r
    }
    names.discard(None)
    data["listeners"] = [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}]
    data["policy"]["clusters"] = [{"name": n, "endpoints": [{"address": "127.0.0.1:1"}]} for n in sorted(names)]
    policy = validate(parse_yaml(yaml.safe_dump(data), "README.md"), "README.md").policy
    routes = {r.name: r.policy for r in policy.route_tables[0].routes}
    assert routes["catalog"].split is not None and routes["catalog"].retry is not None
    assert routes["orders"].rate_limit is not None and routes["payments-chaos"].fault is not None


def test_quickstart_config_validates() -> None:
    block = re.search(r"cat > canary.yaml <<'YAML'\n(.*?)YAML\n", _section(), re.S)
    assert block is not None
    config = validate(parse_yaml(block.group(1), "canary.yaml"), "canary.yaml")
    assert config.policy.route_tables[0].routes[0].policy.split is not None
