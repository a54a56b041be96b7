"""The service registry (pure): instances, their heartbeats and health, taking `now` as an argument.

An instance is healthy while its stream to a control-plane replica is open and heartbeats keep
arriving (the last within `stale_after` seconds); it is removed after `remove_after` seconds of
silence. Replicas share records through Redis: `merge` keeps whichever copy changed last.

Instance ids are leased: once the mesh CA has issued an instance a certificate, its id is bound
to that certificate's key (`bound_keys`). While the registration is held (a heartbeat within
`lease` seconds), only a stream presenting a bound key may register that id again; after that
the id is free for any sidecar authenticated for the service (a restarted sidecar that lost its
key in memory), and the binding starts over with that sidecar's next certificate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Nack:
    version: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Instance:
    service: str
    instance: str
    address: str = ""
    zone: str = ""
    sidecar_version: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    replica: str = ""  # control-plane replica holding the stream
    connected: bool = True
    last_heartbeat: float = 0.0  # wall-clock seconds
    updated: float = 0.0  # wall-clock seconds of the last change to this record
    applied_version: str = ""
    pushed_version: str = ""
    last_nack: Nack | None = None
    bound_keys: tuple[str, ...] = ()  # public-key SHA-256 of its certificates from the CA, newest last
    identity: str = ""  # the SPIFFE ID its stream authenticated with ("" = a join token)


KEEP_KEYS = 2  # the certificate in force and the one before (a renewal whose answer was lost)


@dataclass
class Registry:
    stale_after: float = 3.0
    remove_after: float = 30.0
    lease: float = 10.0
    instances: dict[str, Instance] = field(default_factory=dict)

    # --- events from this replica's streams ------------------------------------------------

    def register(self, instance: Instance, now: float) -> Instance:
        record = replace(instance, connected=True, last_heartbeat=now, updated=now)
        self.instances[instance.instance] = record
        return record

    def update(self, instance_id: str, now: float, *, heartbeat: bool = False, **changes: object) -> Instance | None:
        """Record a heartbeat and/or field changes (applied_version, pushed_version, last_nack, connected)."""
        current = self.instances.get(instance_id)
        if current is None:
            return None
        if heartbeat:
            changes["last_heartbeat"] = now
        record = replace(current, updated=now, **changes)  # type: ignore[arg-type]
        self.instances[instance_id] = record
        return record

    def disconnect(self, instance_id: str, replica: str, now: float) -> Instance | None:
        """The stream on `replica` ended; ignored when the instance has since moved to another replica."""
        current = self.instances.get(instance_id)
        if current is None or current.replica != replica:
            return None
        return self.update(instance_id, now, connected=False)

    def held(self, instance: Instance, now: float) -> bool:
        """The registration is live or within its lease (a heartbeat within `lease` seconds)."""
        return self.healthy(instance, now) or now - instance.last_heartbeat <= self.lease

    def claim_problem(self, service: str, instance_id: str, key: str, now: float) -> str | None:
        """Why a stream of `service` may not register `instance_id` now, or None. `key` is the public-key
        SHA-256 of the certificate the stream presented ("" = it authenticated with a join token)."""
        owner = self.instances.get(instance_id)
        if owner is None:
            return None
        if owner.service != service:
            return f"instance {instance_id!r} is registered by service {owner.service!r}"
        if not owner.bound_keys or (key and key in owner.bound_keys) or not self.held(owner, now):
            return None
        if key:
            return f"instance {instance_id!r} is held by another certificate of {service!r} (its lease runs)"
        return (
            f"instance {instance_id!r} is bound to a workload certificate and its registration is live "
            f"(lease {self.lease:g}s): its sidecar reconnects with that certificate; a join token cannot take it over"
        )

    def claimed(self, instance: Instance, key: str) -> Instance:
        """The record to register for a stream that passed `claim_problem`: the bound keys stay when
        the stream presents one of them; a stream without one starts the binding over."""
        owner = self.instances.get(instance.instance)
        keep = owner.bound_keys if owner is not None and key and key in owner.bound_keys else ()
        return replace(instance, bound_keys=keep or ((key,) if key else ()))

    def bind(self, instance_id: str, key: str, now: float) -> Instance | None:
        """The CA issued `instance_id` a certificate over `key`: bind the id to it (the newest two keys)."""
        current = self.instances.get(instance_id)
        if current is None or not key:
            return None
        keys = (*[k for k in current.bound_keys if k != key][-(KEEP_KEYS - 1) :], key)
        return self.update(instance_id, now, bound_keys=keys)

    # --- shared view -------------------------------------------------------------------------

    def merge(self, records: Iterable[Instance]) -> None:
        """Adopt records from other replicas where they are newer than ours."""
        for record in records:
            current = self.instances.get(record.instance)
            if current is None or record.updated > current.updated:
                self.instances[record.instance] = record

    def healthy(self, instance: Instance, now: float) -> bool:
        return instance.connected and now - instance.last_heartbeat <= self.stale_after

    def expire(self, now: float) -> list[Instance]:
        """Remove and return the instances silent for longer than `remove_after`."""
        gone = [i for i in self.instances.values() if now - i.last_heartbeat > self.remove_after]
        for instance in gone:
            del self.instances[instance.instance]
        return gone

    def of(self, service: str = "") -> list[Instance]:
        """Instances of `service` (all when empty), sorted by service then id."""
        found = [i for i in self.instances.values() if not service or i.service == service]
        return sorted(found, key=lambda i: (i.service, i.instance))

    def endpoints(self, service: str, now: float) -> tuple[str, ...]:
        """Inbound addresses of the healthy instances of `service`, sorted."""
        return tuple(sorted({i.address for i in self.of(service) if i.address and self.healthy(i, now)}))
