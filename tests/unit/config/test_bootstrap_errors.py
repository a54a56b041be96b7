"""Bad bootstrap files stop start-up with an error naming the file, the field path and the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.config import bootstrap
from sidecar.policy.errors import ConfigError


def good() -> dict[str, Any]:
    return {
        "node": {"service": "catalog"},
        "admin": {"address": "127.0.0.1:9901"},
        "listeners": [
            {"name": "inbound", "address": "0.0.0.0:15006", "direction": "INBOUND"},
            {"name": "outbound", "address": "127.0.0.1:15001", "direction": "OUTBOUND"},
        ],
        "policy": {
            "version": "v1",
            "route_tables": [
                {"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]},
                {"name": "outbound", "routes": [
                    {"name": "pricing", "match": {"service": "shop.Pricing", "headers": [
                        {"name": "x-canary", "exact": "true"}]}, "cluster": "pricing"},
                ]},
            ],
            "clusters": [
                {"name": "local", "endpoints": [{"address": "127.0.0.1:50051"}]},
                {"name": "pricing", "endpoints": [{"address": "pricing.svc:15006", "weight": 3}],
                 "dns_refresh": "2s"},
            ],
        },
    }  # fmt: skip


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "sidecar.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_for(tmp_path: Path, data: Any) -> ConfigError:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        bootstrap.load(path)
    assert str(info.value).startswith(f"{path}: ")
    return info.value


def test_good_config_loads(tmp_path: Path) -> None:
    _, model = bootstrap.load(write(tmp_path, good()))
    assert [lis.name for lis in model.listeners] == ["inbound", "outbound"]
    pricing = model.policy.cluster("pricing")
    assert pricing.dns_refresh == 2.0
    assert pricing.endpoints[0].weight == 3
    assert model.policy.version == "v1"


def test_unknown_field(tmp_path: Path) -> None:
    data = good()
    data["policy"]["route_tables"][1]["routes"][0]["clustr"] = "pricing"
    err = error_for(tmp_path, data)
    assert err.field == "policy.route_tables[1].routes[0].clustr"
    assert "unknown field" in err.reason and "cluster" in err.reason


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["policy"]["clusters"][1]["endpoints"][0].update(weight="heavy"),
         "policy.clusters[1].endpoints[0].weight", "expected an integer"),
        (lambda d: d["policy"]["clusters"][1]["endpoints"][0].update(weight=-1),
         "policy.clusters[1].endpoints[0].weight", "outside 0..4294967295"),
        (lambda d: d["policy"]["clusters"][1].update(dns_refresh="soon"),
         "policy.clusters[1].dns_refresh", "expected a duration"),
        (lambda d: d["listeners"][0].update(direction="SIDEWAYS"),
         "listeners[0].direction", "expected one of INBOUND, OUTBOUND"),
        (lambda d: d.update(listeners={"inbound": 1}), "listeners", "expected a list"),
        (lambda d: d["policy"]["route_tables"][0].update(routes="local"),
         "policy.route_tables[0].routes", "expected a list"),
        (lambda d: d["policy"]["route_tables"][1]["routes"][0]["match"].update(method="/a/b"),
         "policy.route_tables[1].routes[0].match.service", "only one of"),  # safe_dump sorts keys
    ],
)  # fmt: skip
def test_wrong_types(tmp_path: Path, mutate: Any, field: str, words: str) -> None:
    data = good()
    mutate(data)
    err = error_for(tmp_path, data)
    assert err.field == field
    assert words in err.reason


def test_dangling_cluster_reference(tmp_path: Path) -> None:
    data = good()
    data["policy"]["route_tables"][1]["routes"][0]["cluster"] = "pricng"
    err = error_for(tmp_path, data)
    assert err.field == "policy.route_tables[1].routes[0].cluster"
    assert "unknown cluster 'pricng'" in err.reason and "pricing" in err.reason


def test_listener_without_route_table(tmp_path: Path) -> None:
    data = good()
    data["listeners"][1]["route_table"] = "egress"
    err = error_for(tmp_path, data)
    assert err.field == "listeners[1].route_table"
    assert "no route table named 'egress'" in err.reason


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("localhost", "no port"),
        ("127.0.0.1:http", "is not a number"),
        ("127.0.0.1:70000", "outside 1..65535"),
        ("::1:50051", "brackets"),
        ("bad host:1", "not a valid host name"),
        ("", "address is empty"),
    ],
)
def test_bad_addresses(tmp_path: Path, address: str, words: str) -> None:
    data = good()
    data["policy"]["clusters"][0]["endpoints"][0]["address"] = address
    err = error_for(tmp_path, data)
    assert err.field == "policy.clusters[0].endpoints[0].address"
    assert words in err.reason


def test_port_conflict(tmp_path: Path) -> None:
    data = good()
    data["admin"]["address"] = "127.0.0.1:15006"  # inbound binds 0.0.0.0:15006
    err = error_for(tmp_path, data)
    assert err.field == "admin.address"
    assert "port 15006 conflicts with listeners[0].address" in err.reason


def test_port_zero_never_conflicts(tmp_path: Path) -> None:
    data = good()
    for lis in data["listeners"]:
        lis["address"] = "127.0.0.1:0"
    data["admin"]["address"] = "127.0.0.1:0"
    bootstrap.load(write(tmp_path, data))


def test_duplicate_names(tmp_path: Path) -> None:
    data = good()
    data["policy"]["clusters"].append({"name": "local", "endpoints": [{"address": "127.0.0.1:1"}]})
    err = error_for(tmp_path, data)
    assert err.field == "policy.clusters[2].name"
    assert "duplicate cluster name 'local'" in err.reason


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, "node:\n  service: [unclosed\n")
    assert err.field.startswith("line ")
    assert "invalid YAML" in err.reason


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        bootstrap.load("/nonexistent/apex.yaml")


def test_cli_check_reports_and_exits_nonzero(tmp_path: Path) -> None:
    data = good()
    data["policy"]["clusters"][1]["endpoints"][0]["address"] = "pricing.svc"
    path = write(tmp_path, data)
    bad = subprocess.run([sys.executable, "-m", "sidecar", "sidecar", "--check", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2
    assert f"{path}: policy.clusters[1].endpoints[0].address: bad address 'pricing.svc': no port" in bad.stderr
    good_path = write(tmp_path, good())
    ok = subprocess.run([sys.executable, "-m", "sidecar", "sidecar", "--check", "--config", str(good_path)],
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "ok (2 listeners, 2 clusters)" in ok.stdout
