"""Security fields in the bootstrap: mTLS modes, principals, the identity, join token references."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.policy.errors import ConfigError
from sidecar.security.peer import MtlsMode


def _config(listener: dict[str, Any], **extra: Any) -> str:
    data = {
        "node": {"service": "echo"},
        "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND", **listener}],
        "policy": {"route_tables": [{"name": "inbound", "routes": [{"name": "r", "cluster": "c"}]}],
                   "clusters": [{"name": "c", "mtls": True, "endpoints": [{"address": "127.0.0.1:1"}]}]},
        **extra,
    }  # fmt: skip
    return yaml.safe_dump(data)


def _load(text: str) -> Any:
    return validate(parse_yaml(text, "t.yaml"), "t.yaml")


def test_a_strict_listener_with_ca_certificates() -> None:
    boot = _load(
        _config(
            {"mtls": "strict", "allowed_principals": ["spiffe://cluster.local/ns/a/*"]},
            control_plane="127.0.0.1:7700",
            security={"namespace": "shop", "join_token": {"env": "APEX_JOIN"}},
        )
    )
    assert boot.listeners[0].mtls is MtlsMode.STRICT
    assert boot.listeners[0].allowed_principals == ("spiffe://cluster.local/ns/a/*",)
    assert str(boot.security.identity) == "spiffe://cluster.local/ns/shop/sa/echo"
    assert boot.security.join_token == {"env": "APEX_JOIN"}
    assert boot.policy.clusters[0].mtls


@pytest.mark.parametrize(
    ("listener", "extra", "field", "reason"),
    [
        ({"mtls": "sometimes"}, {}, "listeners[0].mtls", "unknown mTLS mode"),
        ({"mtls": "strict"}, {}, "listeners[0].mtls", "needs a `security` section"),
        ({"mtls": "strict"}, {"security": {}}, "security.certificate_files", "needs certificate files"),
        ({"allowed_principals": ["echo"]}, {}, "listeners[0].allowed_principals[0]", "not a SPIFFE ID glob"),
        (
            {},
            {"security": {"certificate_files": {"certificate": "a"}}},
            "security.certificate_files.private_key",
            "required",
        ),
        ({}, {"security": {"namespace": "Bad NS"}}, "security", "namespace"),
    ],
)
def test_bad_security_config_names_the_field(
    listener: dict[str, Any], extra: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _load(_config(listener, **extra))
    assert err.value.field == field and reason in err.value.reason


def _cluster_config(cluster: dict[str, Any]) -> str:
    data = {
        "node": {"service": "caller"},
        "listeners": [{"name": "outbound", "address": "127.0.0.1:0", "direction": "OUTBOUND"}],
        "policy": {"route_tables": [{"name": "outbound", "routes": [{"name": "r", "cluster": "c"}]}],
                   "clusters": [{"name": "c", "endpoints": [{"address": "127.0.0.1:1"}], **cluster}]},
    }  # fmt: skip
    return yaml.safe_dump(data)


def test_a_cluster_may_expect_one_upstream_identity() -> None:
    boot = _load(_cluster_config({"mtls": True, "mtls_server_identity": "spiffe://cluster.local/ns/shop/sa/catalog"}))
    assert boot.policy.clusters[0].mtls_server_identity == "spiffe://cluster.local/ns/shop/sa/catalog"
    h2 = {"mtls": True, "transport": "h2", "mtls_server_identity": "spiffe://cluster.local/ns/shop/sa/cat.v2"}
    assert _load(_cluster_config(h2)).policy.clusters[0].mtls_server_identity.endswith("/sa/cat.v2")


@pytest.mark.parametrize(
    ("cluster", "reason"),
    [
        ({"mtls_server_identity": "spiffe://cluster.local/ns/shop/sa/catalog"}, "needs `mtls: true`"),
        ({"mtls": True, "mtls_server_identity": "catalog"}, "is not a SPIFFE ID"),
        ({"mtls": True, "mtls_server_identity": "spiffe://cluster.local/sa/catalog"}, "/ns/<namespace>/sa/<service>"),
        ({"mtls": True, "mtls_server_identity": "spiffe://cluster.local/ns/shop/sa/cat.v2"}, "use transport h2"),
    ],
)
def test_a_bad_expected_server_identity_names_the_field(cluster: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(_cluster_config(cluster))
    assert err.value.field == "policy.clusters[0].mtls_server_identity"
    assert reason in err.value.reason
