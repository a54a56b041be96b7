"""Validation of Policy.jwt and Policy.authorization from YAML: the model, and errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from apex.mesh.v1 import control_pb2

from sidecar.cli.policy_cmd import load_policy
from sidecar.cli.policy_view import policy_yaml
from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.auth_model import Action, KeySource
from sidecar.policy.errors import ConfigError
from tests.support.jwt_keys import ec_key, jwks

BASE = """
listeners: [{name: in, address: "127.0.0.1:0", direction: INBOUND}]
policy:
  route_tables: [{name: in, routes: [{name: orders, cluster: c}]}]
  clusters: [{name: c, endpoints: [{address: "127.0.0.1:1"}]}]
"""
PROVIDER = {"name": "corp", "issuer": "https://issuer.test", "jwks_uri": "https://issuer.test/jwks"}


def load(jwt: dict[str, Any] | None = None, authorization: list[dict[str, Any]] | None = None) -> Any:
    data = yaml.safe_load(BASE)
    if jwt is not None:
        data["policy"]["jwt"] = jwt
    if authorization is not None:
        data["policy"]["authorization"] = authorization
    return validate(parse_yaml(yaml.safe_dump(data), "test.yaml"), "test.yaml").policy


def error(jwt: dict[str, Any] | None = None, authorization: list[dict[str, Any]] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(jwt, authorization)
    return str(info.value)


def test_a_full_configuration() -> None:
    policy = load(
        {
            "providers": [
                {
                    **PROVIDER,
                    "audiences": ["orders"],
                    "algorithms": ["ES256"],
                    "clock_skew": "5s",
                    "refresh_interval": "10m",
                    "min_refresh_interval": "1s",
                    "forward_claims": {"sub": "x-user"},
                    "jwks_ca_file": "/etc/ca.pem",
                },
                {"name": "local", "issuer": "https://local.test", "jwks": jwks(ec_key("k"))},
            ],
            "rules": [{"name": "api", "providers": ["corp", "local"], "routes": ["orders"], "required": True}],
        },
        [
            {
                "name": "allow-shop",
                "rules": [
                    {
                        "source": {"namespaces": ["shop"]},
                        "to": {"methods": ["/o.O/*"]},
                        "when": [{"key": "request.auth.claims[scope]", "values": ["r"]}],
                    }
                ],
            },
            {
                "name": "no-evil",
                "action": "DENY",
                "dry_run": True,
                "rules": [{"source": {"principals": ["spiffe://cluster.local/ns/x/sa/evil"]}}],
            },
        ],
    )
    corp = policy.jwt.provider("corp")
    assert corp.source is KeySource.URI and corp.algorithms == ("ES256",) and corp.clock_skew == 5.0
    assert corp.forward_claims == (("sub", "x-user"),) and corp.min_refresh_interval == 1.0
    assert policy.jwt.provider("local").source is KeySource.INLINE
    assert policy.jwt.rules[0].required and policy.jwt.rules[0].routes == ("orders",)
    allow, deny = policy.authorization
    assert allow.action is Action.ALLOW and allow.rules[0].when[0].path == ("scope",)
    assert deny.action is Action.DENY and deny.dry_run


@pytest.mark.parametrize(
    ("jwt", "message"),
    [
        (
            {"providers": [{**PROVIDER, "algorithms": ["HS256"]}]},
            "policy.jwt.providers[0].algorithms[0]: 'HS256': symmetric algorithms are refused",
        ),
        ({"providers": [{**PROVIDER, "algorithms": ["none"]}]}, "'none': unsigned tokens are refused"),
        (
            {"providers": [{**PROVIDER, "jwks_uri": "http://issuer.test/jwks"}]},
            "policy.jwt.providers[0].jwks_uri: keys are fetched over https only",
        ),
        ({"providers": [{"name": "corp", "issuer": "https://i"}]}, "one of jwks_file, jwks_uri or jwks is required"),
        ({"providers": [{"name": "corp", "jwks_file": "/k"}]}, "policy.jwt.providers[0].issuer: issuer is required"),
        (
            {"providers": [{"name": "corp", "issuer": "https://i", "jwks": '{"keys": []}'}]},
            "policy.jwt.providers[0].jwks: JWKS holds no usable signing key",
        ),
        ({"providers": [{**PROVIDER, "forward_claims": {"sub": "authorization"}}]}, "'authorization' is reserved"),
        ({"providers": [{**PROVIDER, "forward_claims": {"sub": "X-User"}}]}, "expected a lower-case metadata key"),
        ({"providers": [PROVIDER, {**PROVIDER, "name": "again"}]}, "issuer 'https://issuer.test' has two providers"),
        (
            {"providers": [PROVIDER], "rules": [{"providers": ["nobody"]}]},
            "policy.jwt.rules[0].providers[0]: no provider named 'nobody'",
        ),
        (
            {"providers": [PROVIDER], "rules": [{"providers": ["corp"], "routes": ["gone"]}]},
            "policy.jwt.rules[0].routes[0]: no route named 'gone' (routes: orders)",
        ),
        ({"providers": [{**PROVIDER, "min_refresh_interval": "0s"}]}, "min_refresh_interval: must be positive"),
    ],
)
def test_jwt_errors_name_the_field(jwt: dict[str, Any], message: str) -> None:
    assert message in error(jwt)


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([{"rules": []}], "policy.authorization[0].name: policy name is required"),
        ([{"name": "a"}, {"name": "a"}], "duplicate authorization policy name 'a'"),
        ([{"name": "d", "action": "DENY"}], "a DENY policy needs at least one rule"),
        (
            [{"name": "a", "rules": [{"source": {"principals": ["frontend"]}}]}],
            "policy.authorization[0].rules[0].source.principals[0]: 'frontend' is not a SPIFFE ID glob",
        ),
        ([{"name": "a", "rules": [{"to": {"methods": ["Get"]}}]}], "to.methods[0]: a method glob matches"),
        (
            [{"name": "a", "rules": [{"when": [{"key": "claims.scope", "values": ["x"]}]}]}],
            "policy.authorization[0].rules[0].when[0].key: expected request.headers[<name>] or request.auth.claims",
        ),
        ([{"name": "a", "rules": [{"when": [{"key": "request.headers[x-a]"}]}]}], "values or not_values is required"),
        ([{"name": "a", "routes": ["gone"]}], "policy.authorization[0].routes[0]: no route named 'gone'"),
        ([{"name": "a", "action": "MAYBE"}], "expected one of ALLOW, DENY"),
    ],
)
def test_authorization_errors_name_the_field(policies: list[dict[str, Any]], message: str) -> None:
    assert message in error(authorization=policies)


def test_apex_policy_set_validates_them_and_get_prints_them_back(tmp_path: Path) -> None:
    data = yaml.safe_load(BASE)["policy"]
    data["jwt"] = {"providers": [{**PROVIDER, "forward_claims": {"sub": "x-user"}, "clock_skew": "5s"}],
                   "rules": [{"name": "api", "providers": ["corp"], "required": True}]}  # fmt: skip
    data["authorization"] = [{"name": "ro", "rules": [{"when": [{"key": "request.headers[x-a]", "values": ["1"]}]}]}]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    message = load_policy(str(path))
    shown = yaml.safe_load(policy_yaml(control_pb2.PolicyRecord(policy=message)))
    assert shown["jwt"]["providers"][0]["forward_claims"] == {"sub": "x-user"}
    assert shown["jwt"]["providers"][0]["clock_skew"] == "5s"
    assert shown["authorization"][0]["rules"][0]["when"][0]["key"] == "request.headers[x-a]"
    path.write_text(yaml.safe_dump(shown))
    assert load_policy(str(path)) == message  # what `get` prints can be `set` back
    data["authorization"][0]["rules"][0]["when"][0]["key"] = "headers"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"policy\.authorization\[0\]\.rules\[0\]\.when\[0\]\.key"):
        load_policy(str(path))
