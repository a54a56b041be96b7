"""Out-of-range patch values are PatchErrors naming the field (issue 10.e), not ValueErrors from protobuf."""

from __future__ import annotations

import pytest
from apex.mesh.v1 import config_pb2

from engines.control.patch import PatchError, apply


def _policy() -> config_pb2.Policy:
    policy = config_pb2.Policy()
    policy.clusters.add(name="echo").endpoints.add(address="127.0.0.1:1")
    return policy


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("clusters[echo].limits.max_requests", "99999999999", "99999999999 is outside 0..4294967295"),
        ("clusters[echo].endpoints[0].weight", "4294967296", "is outside 0..4294967295"),
        ("clusters[echo].dns_refresh", "99999999999999999999s", "longer than the maximum duration"),
        ("clusters[echo].dns_refresh", "1.0e+300", "longer than the maximum duration"),
        ("clusters[echo].limits", "{max_requests: 99999999999}", "max_requests"),
        ("clusters[echo].authority", "[" * 5000 + "]" * 5000, "authority"),
    ],
)
def test_out_of_range_values_name_the_field(path: str, value: str, reason: str) -> None:
    with pytest.raises(PatchError) as info:
        apply(_policy(), path, value)
    assert info.value.field == path
    assert reason in str(info.value)
