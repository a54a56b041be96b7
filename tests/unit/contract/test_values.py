"""The one reading of durations and integer ranges (apex.mesh.contract.values), and that the sidecar's
config and the control plane's patches both use it: the same value gets the same answer in both."""

from __future__ import annotations

import math

import pytest
import yaml
from apex.mesh.contract import values
from apex.mesh.v1 import config_pb2
from google.protobuf.descriptor import FieldDescriptor

from engines.control.patch import PatchError, apply
from sidecar.config.yaml_proto import parse_duration
from sidecar.policy.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("250ms", 0.25), ("2s", 2.0), (" 1.5 m ", 90.0), ("1h", 3600.0), (".5s", 0.5), (0, 0.0), (3, 3.0), (0.125, 0.125)],
)
def test_durations(value: object, seconds: float) -> None:
    assert values.duration_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "expected a duration like '1s' or '250ms', got True"),
        ("soon", "expected a duration like '1s' or '250ms', got 'soon'"),
        ("5d", "expected a duration"),
        ("-1s", "expected a duration"),
        (-1, "a duration must be a finite non-negative time, got -1"),
        (math.nan, "finite non-negative"),
        (math.inf, "finite non-negative"),
        (None, "expected a duration"),
        ("99999999999999999999s", "longer than the maximum duration (3153600000s, 100 years)"),
        (1.0e300, "longer than the maximum duration"),
    ],
)
def test_bad_durations_name_the_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        values.duration_seconds(value)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (FieldDescriptor.TYPE_UINT32, 2**32, "4294967296 is outside 0..4294967295"),
        (FieldDescriptor.TYPE_UINT32, -1, "expected a non-negative integer, got -1 (outside 0..4294967295)"),
        (FieldDescriptor.TYPE_INT32, -(2**31) - 1, "-2147483649 is outside -2147483648..2147483647"),
        (FieldDescriptor.TYPE_INT64, 2**63, "9223372036854775808 is outside -9223372036854775808..9223372036854775807"),
        (FieldDescriptor.TYPE_UINT64, True, "expected an integer, got a boolean True"),
        (FieldDescriptor.TYPE_INT32, "7", "expected an integer, got a string '7'"),
        (FieldDescriptor.TYPE_INT32, 1.5, "expected an integer, got 1.5"),
    ],
)
def test_integer_ranges(kind: int, value: object, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        values.checked_int(kind, value)
    assert str(caught.value) == reason


def test_integer_bounds_are_inclusive() -> None:
    for kind, (low, high) in values.INT_RANGES.items():
        assert values.checked_int(kind, low) == low
        assert values.checked_int(kind, high) == high


def _policy() -> config_pb2.Policy:
    policy = config_pb2.Policy()
    policy.clusters.add(name="echo").endpoints.add(address="127.0.0.1:1")
    return policy


@pytest.mark.parametrize("value", ["soon", "-1", ".nan", ".inf", "1.0e+300", "true", "2s", "250ms", "7"])
def test_config_and_patch_agree(value: str) -> None:
    """A duration in the sidecar's YAML config and in a control-plane patch: the same seconds, or
    the same reason, each error naming its own field."""
    config: float | str
    try:
        config = parse_duration(yaml.safe_load(value), "policy.clusters[0].dns_refresh")
    except ConfigError as exc:
        assert exc.field == "policy.clusters[0].dns_refresh"
        config = exc.reason
    patch: float | str
    try:
        policy = _policy()
        apply(policy, "clusters[echo].dns_refresh", value)
        patch = policy.clusters[0].dns_refresh.ToNanoseconds() / 1e9
    except PatchError as exc:
        assert exc.field == "clusters[echo].dns_refresh"
        patch = exc.reason
    assert patch == config
