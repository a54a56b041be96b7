"""Transport names (listeners, clusters) and listener wire limits, as validated from config."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sidecar.config.bootstrap import parse_yaml, validate
from sidecar.core.transport import DEFAULT_TRANSPORT, H2Settings, WireLimits
from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Bootstrap


def _load(listener: dict[str, Any] | None = None, cluster: dict[str, Any] | None = None) -> Bootstrap:
    config = {
        "listeners": [{"name": "in", "address": "127.0.0.1:0", "direction": "INBOUND", **(listener or {})}],
        "policy": {
            "route_tables": [{"name": "in", "routes": [{"name": "all", "cluster": "local"}]}],
            "clusters": [{"name": "local", "endpoints": [{"address": "127.0.0.1:9"}], **(cluster or {})}],
        },
    }
    return validate(parse_yaml(yaml.safe_dump(config), "sidecar.yaml"), "sidecar.yaml")


def test_transport_defaults_to_grpc_and_limits_to_the_documented_defaults() -> None:
    boot = _load()
    assert boot.listeners[0].transport == DEFAULT_TRANSPORT == "grpc"
    assert boot.policy.clusters[0].transport == "grpc"
    assert boot.listeners[0].limits == WireLimits()
    assert WireLimits() == WireLimits(16 * 1024 * 1024, 16 * 1024, 1000)


def test_a_named_known_transport_is_accepted() -> None:
    boot = _load({"transport": "grpc"}, {"transport": "grpc"})
    assert (boot.listeners[0].transport, boot.policy.clusters[0].transport) == ("grpc", "grpc")


@pytest.mark.parametrize(
    ("listener", "cluster", "field"),
    [
        ({"transport": "h3"}, None, "listeners[0].transport"),
        (None, {"transport": "carrier-pigeon"}, "policy.clusters[0].transport"),
    ],
)
def test_an_unknown_transport_names_the_field_and_lists_the_known_ones(
    listener: dict[str, Any] | None, cluster: dict[str, Any] | None, field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(listener, cluster)
    assert info.value.field == field
    assert "unknown transport" in info.value.reason
    assert "known transports: grpc" in info.value.reason
    assert str(info.value).startswith("sidecar.yaml: ")


def test_limits_set_per_listener_and_zero_means_the_default() -> None:
    limits = {"max_message_bytes": 1024, "max_concurrent_streams": 10}
    boot = _load({"limits": limits})
    assert boot.listeners[0].limits == WireLimits(1024, WireLimits().max_metadata_bytes, 10)


def test_a_limit_grpc_cannot_take_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError) as info:
        _load({"limits": {"max_message_bytes": 2**31}})
    assert info.value.field == "listeners[0].limits.max_message_bytes"
    assert "maximum" in info.value.reason


def test_h2_settings_per_listener_and_cluster_with_defaults_for_unset_fields() -> None:
    boot = _load(
        {"transport": "h2", "h2": {"header_timeout": "2s", "idle_timeout": "60s", "stream_window_bytes": 262144}},
        {"transport": "h2", "h2": {"connect_timeout": "250ms", "keepalive_interval": "10s"}},
    )
    listener, cluster = boot.listeners[0].h2, boot.policy.clusters[0].h2
    assert (listener.header_timeout, listener.idle_timeout, listener.stream_window) == (2.0, 60.0, 262144)
    assert listener.connection_window == H2Settings().connection_window == 4 * 1024 * 1024
    assert (cluster.connect_timeout, cluster.keepalive_interval) == (0.25, 10.0)
    assert cluster.header_timeout == H2Settings().header_timeout
    assert _load().listeners[0].h2 == H2Settings()


@pytest.mark.parametrize(
    ("listener", "cluster", "field", "reason"),
    [
        ({"h2": {"idle_timeout": "1s"}}, None, "listeners[0].h2", "transport h2 only; this listener uses"),
        (None, {"h2": {"connect_timeout": "1s"}}, "policy.clusters[0].h2", "transport h2 only"),
        (
            {"transport": "h2", "h2": {"connect_timeout": "1s"}},
            None,
            "listeners[0].h2.connect_timeout",
            "applies to a cluster, not a listener",
        ),
        (
            None,
            {"transport": "h2", "h2": {"header_timeout": "1s"}},
            "policy.clusters[0].h2.header_timeout",
            "applies to a listener, not a cluster",
        ),
        ({"transport": "h2", "h2": {"idle_timeout": "0s"}}, None, "listeners[0].h2.idle_timeout", "must be positive"),
        (
            {"transport": "h2", "h2": {"stream_window_bytes": 1000}},
            None,
            "listeners[0].h2.stream_window_bytes",
            "outside 65535..",
        ),
        (
            None,
            {"transport": "h2", "h2": {"stream_window_bytes": 2097152, "connection_window_bytes": 1048576}},
            "policy.clusters[0].h2.connection_window_bytes",
            "below stream_window_bytes",
        ),
    ],
)
def test_bad_h2_settings_name_the_field_and_the_reason(
    listener: dict[str, Any] | None, cluster: dict[str, Any] | None, field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(listener, cluster)
    assert info.value.field == field
    assert reason in info.value.reason
