"""Sidecar.apply takes a validated Policy: fit checks, no rebuild for an equal policy, the dump's message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sidecar.config import bootstrap as bootstrap_file
from sidecar.policy.errors import ConfigError
from sidecar.runtime.sidecar import Sidecar

CONFIG = """
node: {service: front, instance: front-1}
listeners:
  - {name: outbound, address: "127.0.0.1:0", direction: OUTBOUND}
policy:
  version: "1"
  route_tables:
    - name: outbound
      routes: [{name: all, cluster: catalog}]
  clusters:
    - {name: catalog, endpoints: [{address: "10.0.0.9:80"}]}
"""


def make(tmp_path: Path) -> Sidecar:
    path = tmp_path / "sidecar.yaml"
    path.write_text(CONFIG)
    config, model = bootstrap_file.load(path)
    sidecar = Sidecar(config, model, str(path))
    sidecar._install(sidecar.policy)
    return sidecar


def test_a_policy_without_a_listeners_route_table_is_rejected_and_the_old_one_stays(tmp_path: Path) -> None:
    sidecar = make(tmp_path)
    routers = sidecar._routers
    table = dataclasses.replace(sidecar.policy.route_tables[0], name="elsewhere")
    misfit = dataclasses.replace(sidecar.policy, version="2", route_tables=(table,))
    with pytest.raises(ConfigError) as caught:
        sidecar.apply(misfit)
    assert caught.value.field == "policy.route_tables"
    assert sidecar.policy.version == "1" and sidecar._routers is routers
    assert sidecar.effective_config().policy.version == "1"


def test_an_equal_policy_rebuilds_nothing_and_a_new_one_swaps_the_routers(tmp_path: Path) -> None:
    sidecar = make(tmp_path)
    routers = sidecar._routers
    assert sidecar.apply(dataclasses.replace(sidecar.policy)) is False
    assert sidecar._routers is routers
    assert sidecar.apply(dataclasses.replace(sidecar.policy, version="2")) is True
    assert sidecar._routers is not routers and sidecar.policy.version == "2"
    assert sidecar._switches["outbound"].service is sidecar._routers["outbound"]


def test_the_dump_shows_the_message_a_policy_came_from_and_never_a_stale_one(tmp_path: Path) -> None:
    sidecar = make(tmp_path)
    message = sidecar.effective_config().policy
    message.version = "2"
    sidecar.apply(dataclasses.replace(sidecar.policy, version="2"), message)
    assert sidecar.effective_config().policy == message
    sidecar.apply(dataclasses.replace(sidecar.policy, version="3"))  # no message: the version alone
    dumped = sidecar.effective_config().policy
    assert dumped.version == "3" and not dumped.clusters and not dumped.route_tables


def test_protobuf_is_refused_at_the_boundary(tmp_path: Path) -> None:
    sidecar = make(tmp_path)
    with pytest.raises(TypeError, match="validated Policy"):
        sidecar.apply(sidecar.effective_config().policy)  # type: ignore[arg-type]


def test_a_pushed_jwt_provider_is_fetched_in_the_background_and_kept_across_pushes(tmp_path: Path) -> None:
    import asyncio

    from sidecar.policy import convert
    from sidecar.policy.auth_model import Action
    from tests.support.jwt_keys import ec_key, jwks

    (tmp_path / "jwks.json").write_text(jwks(ec_key("k1")))
    sidecar = make(tmp_path)
    message = sidecar.effective_config().policy
    provider = message.jwt.providers.add(name="corp", issuer="https://i.test", jwks_file=str(tmp_path / "jwks.json"))
    message.jwt.rules.add(name="out", providers=["corp"], listeners=["outbound"], required=True)
    message.authorization.add(name="none", listeners=["outbound"])  # allow nothing there

    async def scenario() -> None:
        await sidecar.jwks.start()  # what Sidecar.start does: nothing to fetch yet
        message.version = "2"
        assert sidecar.apply(convert.policy(message), message)
        assert sidecar.state.route_stacks[("outbound", "all")][:4] == ("metrics", "deadline", "authn", "authz")
        assert sidecar.policy.authorization[0].action is Action.ALLOW
        cache = sidecar.state.jwks["corp"]
        for _ in range(500):  # the background task fetches the file (bounded wait, no timing asserted)
            if cache.keys is not None:
                break
            await asyncio.sleep(0.01)
        assert cache.keys is not None and [k.kid for k in cache.keys.keys] == ["k1"]
        provider.audiences.append("orders")  # a push changing the checks but not the key source
        message.version = "3"
        sidecar.apply(convert.policy(message), message)
        assert sidecar.state.jwks["corp"] is cache and cache.provider.audiences == ("orders",)
        del message.jwt.rules[:]
        del message.jwt.providers[:]
        del message.authorization[:]
        message.version = "4"
        sidecar.apply(convert.policy(message), message)
        assert sidecar.state.jwks.get("corp") is None and not sidecar.jwks._tasks
        assert sidecar.state.route_stacks[("outbound", "all")][:3] == ("metrics", "deadline", "cluster:catalog")
        await sidecar.jwks.close()

    asyncio.run(scenario())
