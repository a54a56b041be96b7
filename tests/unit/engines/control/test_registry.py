"""The service registry with a fake clock."""

from __future__ import annotations

from engines.control.registry import Instance, Nack, Registry


def inst(name: str, service: str = "echo", address: str = "", replica: str = "r1") -> Instance:
    return Instance(service=service, instance=name, address=address or f"10.0.0.{name[-1]}:80", replica=replica)


def test_healthy_while_connected_and_heartbeating() -> None:
    reg = Registry(stale_after=3, remove_after=30)
    reg.register(inst("a1"), now=100)
    a = reg.instances["a1"]
    assert reg.healthy(a, 102.9)
    assert not reg.healthy(a, 103.1)
    reg.update("a1", 103.0, heartbeat=True)
    assert reg.healthy(reg.instances["a1"], 105.9)
    reg.disconnect("a1", "r1", 104)
    assert not reg.healthy(reg.instances["a1"], 104)


def test_removed_after_the_configured_silence() -> None:
    reg = Registry(stale_after=3, remove_after=10)
    reg.register(inst("a1"), now=0)
    reg.register(inst("a2"), now=5)
    assert reg.expire(9.9) == []
    gone = reg.expire(10.5)
    assert [i.instance for i in gone] == ["a1"]
    assert list(reg.instances) == ["a2"]


def test_endpoints_are_the_healthy_addresses_of_a_service() -> None:
    reg = Registry(stale_after=3)
    reg.register(inst("a1"), now=0)
    reg.register(inst("a2"), now=2)
    reg.register(inst("b1", service="other"), now=2)
    assert reg.endpoints("echo", 2.5) == ("10.0.0.1:80", "10.0.0.2:80")
    assert reg.endpoints("echo", 4) == ("10.0.0.2:80",)
    assert [i.instance for i in reg.of()] == ["a1", "a2", "b1"]


def test_merge_keeps_the_newest_record_and_disconnect_ignores_moved_instances() -> None:
    reg = Registry()
    reg.register(inst("a1", replica="r1"), now=10)
    moved = Instance(service="echo", instance="a1", replica="r2", last_heartbeat=12, updated=12)
    stale = Instance(service="echo", instance="a1", replica="r3", last_heartbeat=5, updated=5)
    reg.merge([moved, stale])
    assert reg.instances["a1"].replica == "r2"
    assert reg.disconnect("a1", "r1", 13) is None  # its old replica's stream ending does not matter
    assert reg.instances["a1"].connected


def test_update_records_acks_and_nacks() -> None:
    reg = Registry()
    reg.register(inst("a1"), now=0)
    reg.update("a1", 1, heartbeat=True, applied_version="3")
    reg.update("a1", 2, last_nack=Nack("4", "policy.route_tables", "missing"))
    record = reg.instances["a1"]
    assert (record.applied_version, record.last_heartbeat, record.updated) == ("3", 1, 2)
    assert record.last_nack == Nack("4", "policy.route_tables", "missing")
    assert reg.update("nobody", 3) is None


def test_an_instance_bound_to_a_certificate_key_is_held_for_its_lease() -> None:
    reg = Registry(stale_after=3, remove_after=30, lease=10)
    reg.register(inst("a1"), now=0)  # first registration with the join token: not bound yet
    assert reg.claim_problem("echo", "a1", "", now=1) is None  # the token may register it again
    reg.bind("a1", "k1", now=1)  # the CA issued it a certificate over key k1
    assert reg.instances["a1"].bound_keys == ("k1",)
    reg.update("a1", 5, heartbeat=True)
    token = reg.claim_problem("echo", "a1", "", now=6)
    assert token is not None and "instance 'a1' is bound to a workload certificate" in token
    other = reg.claim_problem("echo", "a1", "k9", now=6)
    assert other is not None and "held by another certificate" in other
    assert reg.claim_problem("echo", "a1", "k1", now=6) is None  # its own key takes it back (a reconnect)
    assert reg.claim_problem("shop", "a1", "k1", now=6) == "instance 'a1' is registered by service 'echo'"
    reg.disconnect("a1", "r1", 7)  # the stream ended; the lease still runs from the last heartbeat
    assert reg.claim_problem("echo", "a1", "", now=15) is not None
    assert reg.claim_problem("echo", "a1", "", now=15.1) is None  # lapsed: a restarted sidecar without the key
    assert reg.claim_problem("echo", "a1", "k9", now=15.1) is None


def test_a_claim_keeps_the_binding_for_its_own_key_and_starts_over_otherwise() -> None:
    reg = Registry(lease=10)
    reg.register(inst("a1"), now=0)
    reg.bind("a1", "k1", 1)
    reg.bind("a1", "k2", 2)  # renewed: the previous key stays (an answer lost with its stream)
    reg.bind("a1", "k3", 3)
    assert reg.instances["a1"].bound_keys == ("k2", "k3")
    reg.bind("a1", "k3", 4)
    assert reg.instances["a1"].bound_keys == ("k2", "k3")
    assert reg.claimed(inst("a1"), "k2").bound_keys == ("k2", "k3")
    assert reg.claimed(inst("a1"), "k7").bound_keys == ("k7",)  # lapsed and claimed with another certificate
    assert reg.claimed(inst("a1"), "").bound_keys == ()  # lapsed and claimed with the token: bound at its CSR
    assert reg.bind("nobody", "k1", 5) is None
