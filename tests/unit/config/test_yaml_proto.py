"""YAML → protobuf filling: durations, enums, oneofs, maps."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import config_pb2

from sidecar.config.yaml_proto import fill, parse_duration
from sidecar.policy.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"), [("250ms", 0.25), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0), (3, 3.0), (0.5, 0.5)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "-1s", "fast", True, None, "1e400s"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "a.b")
    assert info.value.field == "a.b"


def test_fill_sets_fields() -> None:
    msg = fill(
        config_pb2.Bootstrap(),
        {
            "node": {"service": "s", "labels": {"zone": "a", "tier": 1}},
            "listeners": [{"name": "l", "direction": "outbound"}],
            "policy": {"clusters": [{"name": "c", "dns_refresh": "750ms"}]},
        },
    )
    assert isinstance(msg, config_pb2.Bootstrap)
    assert dict(msg.node.labels) == {"zone": "a", "tier": "1"}
    assert msg.listeners[0].direction == config_pb2.Listener.OUTBOUND
    assert msg.policy.clusters[0].dns_refresh.ToMilliseconds() == 750


def test_map_values_must_be_scalars_for_string_maps() -> None:
    with pytest.raises(ConfigError) as info:
        fill(config_pb2.Bootstrap(), {"node": {"labels": {"a": [1]}}})
    assert info.value.field == "node.labels.a"


def test_empty_message_value() -> None:
    msg = fill(config_pb2.Bootstrap(), {"admin": None})
    assert isinstance(msg, config_pb2.Bootstrap)
    assert msg.HasField("admin")
