"""The engines' asyncio PolicyAdmin client against a real control-plane process."""

from __future__ import annotations

import asyncio
import re

import pytest
from apex.mesh.v1 import config_pb2, control_pb2

from engines.control.admin_client import Conflict, NotFound, PolicyAdminClient, Rejected
from tests.support.control_plane_proc import ControlPlaneProcess

pytestmark = pytest.mark.integration


def policy() -> config_pb2.Policy:
    msg = config_pb2.Policy()
    msg.route_tables.add(name="inbound").routes.add(name="all", cluster="local")
    msg.clusters.add(name="local").endpoints.add(address="127.0.0.1:80")
    return msg


def test_a_tuner_reads_patches_conflicts_and_rolls_back(redis_url: str) -> None:
    async def scenario(address: str) -> None:
        async with (
            PolicyAdminClient(address, author="tuner-1", source=control_pb2.TUNER) as tuner,
            PolicyAdminClient(address, author="alice") as operator,
        ):
            with pytest.raises(NotFound):
                await tuner.get("echo")
            await operator.set("echo", policy(), reason="initial", expected_version=0)
            record = await tuner.patch("echo", "clusters[local].dns_refresh", "2s", reason="fewer lookups")
            assert (record.version, record.author, record.source) == (2, "tuner-1", control_pb2.TUNER)
            assert [c.path for c in record.diff] == ["clusters[local].dns_refresh"]
            with pytest.raises(Conflict, match="based on version 1 but the latest is 2"):
                await tuner.patch("echo", "clusters[local].authority", "x", reason="stale", expected_version=1)
            with pytest.raises(Rejected, match=re.escape("clusters[local].endpoints[0].weight: expected an integer")):
                await tuner.patch("echo", "clusters[local].endpoints[0].weight", "many", reason="bad")
            back = await operator.rollback("echo", 1, reason="undo the tuner")
            assert back.rollback_of == 1 and back.version == 3
            assert [r.version for r in await operator.history("echo")] == [3, 2, 1]
            assert await operator.instances("echo") == []

    with ControlPlaneProcess(redis_url) as cp:
        asyncio.run(scenario(cp.address))
