"""The JWT and authorization examples in README.md and docs/security.md validate as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sidecar.config.bootstrap import parse_yaml, validate

ROOT = Path(__file__).resolve().parents[3]
BASE = {
    "listeners": [{"name": "in", "address": "127.0.0.1:0", "direction": "INBOUND"}],
    "policy": {
        "route_tables": [{"name": "in", "routes": [{"name": "orders", "cluster": "c"}]}],
        "clusters": [{"name": "c", "endpoints": [{"address": "127.0.0.1:1"}]}],
    },
}


def examples() -> list[tuple[str, str]]:
    found = []
    for name in ("README.md", "docs/security.md"):
        for block in re.findall(r"```yaml\n(.*?)```", (ROOT / name).read_text(), re.S):
            if re.search(r"^\s+(jwt|authorization):", block, re.M):
                found.append((name, block))
    return found


@pytest.mark.parametrize(("source", "block"), examples(), ids=lambda v: v if v.endswith(".md") else "")
def test_the_example_validates(source: str, block: str) -> None:
    config = yaml.safe_load(yaml.safe_dump(BASE))
    config["policy"].update(yaml.safe_load(block)["policy"])
    policy = validate(parse_yaml(yaml.safe_dump(config), source), source).policy
    assert policy.jwt.providers or policy.authorization


def test_the_examples_are_found() -> None:
    assert len(examples()) == 3
