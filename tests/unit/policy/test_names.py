"""Names are checked where they enter a sidecar's config (issue 10.f), by the one shared rule."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from apex.mesh.contract.names import is_name, name_problem

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.errors import ConfigError
from sidecar.support.sidecar_proc import proxy_config

BAD = ["*", "a b", "x\ny", "../../etc", "a\x00b", "\x1b[31m", "-x", ".x", "a..b", "a/b", "é", "x" * 254, ""]
GOOD = ["echo", "shop.prod", "pod-7d9f_x", "A1", "9lives", "x" * 253]


@pytest.mark.parametrize("name", GOOD)
def test_good_names(name: str) -> None:
    assert is_name(name)


@pytest.mark.parametrize("name", BAD)
def test_bad_names(name: str) -> None:
    assert not is_name(name) and name_problem(name)


def _set(config: dict[str, Any], where: str, value: str) -> None:
    if where == "node.service":
        config["node"]["service"] = value
    elif where == "node.instance":
        config["node"]["instance"] = value
    elif where == "listeners[0].name":
        config["listeners"][0].update(name=value, route_table="inbound")
    elif where == "policy.route_tables[1].routes[0].name":
        config["policy"]["route_tables"][1]["routes"][0]["name"] = value
    elif where == "policy.clusters[0].name":
        config["policy"]["clusters"][0]["name"] = value
        config["policy"]["route_tables"][0]["routes"][0]["cluster"] = value
    elif where == "policy.clusters[0].discover":
        config["policy"]["clusters"][0]["discover"] = value


PLACES = [
    "node.service",
    "node.instance",
    "listeners[0].name",
    "policy.route_tables[1].routes[0].name",
    "policy.clusters[0].name",
    "policy.clusters[0].discover",
]


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("name", ["*", "a b", "x\ny", "../../etc", "a\x00b"])
def test_bad_names_in_a_bootstrap_name_the_field(where: str, name: str) -> None:
    config = proxy_config("127.0.0.1:15011")
    _set(config, where, name)
    with pytest.raises(ConfigError) as info:
        validate(parse_yaml(yaml.safe_dump(config), "sidecar.yaml"), "sidecar.yaml")
    assert info.value.field == where and "not a valid name" in info.value.reason
    assert str(info.value).startswith(f"sidecar.yaml: {where}: ")


def test_the_default_instance_id_is_a_valid_name() -> None:
    config = proxy_config("127.0.0.1:15011")
    model = validate(parse_yaml(yaml.safe_dump(config), "sidecar.yaml"), "sidecar.yaml")
    assert is_name(model.node.instance)
