"""What the control client needs from the sidecar it serves: a narrow interface instead of the whole Sidecar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from apex.mesh.v1 import config_pb2

from sidecar.policy.errors import ConfigError
from sidecar.policy.model import Node, Policy


class PolicyHost(Protocol):
    """The sidecar as the control client sees it: who it is, what is in force, what it can install.

    `sidecar.runtime.sidecar.Sidecar` satisfies it; the control client never imports the runtime.
    Protobuf is converted by the caller (`sidecar.policy.convert`) before `apply`: a conversion error
    is the caller's to report (`rejected`) and to NACK.
    """

    @property
    def node(self) -> Node:
        """The node's identity (service, instance, zone, labels, advertised address)."""
        ...

    @property
    def policy(self) -> Policy:
        """The policy in force (its version is what the sidecar reports as applied)."""
        ...

    def inbound_address(self) -> str:
        """The bound address of the first inbound listener, or "" when there is none (yet)."""
        ...

    def apply(self, policy: Policy, message: config_pb2.Policy | None = None) -> bool:
        """Install a validated policy; False when it equals the policy in force (nothing rebuilt).

        `message` is the protobuf `policy` was converted from, kept verbatim only for the
        effective-config dump. Raises ConfigError (and reports it) when the policy does not fit
        this sidecar, e.g. a listener's route table is missing; the policy in force then stays.
        """
        ...

    def rejected(self, error: ConfigError, version: str) -> None:
        """Report a policy that was rejected before it reached `apply` (a bad push or file)."""
        ...

    def set_discovered(self, cluster: str, addresses: tuple[str, ...]) -> bool:
        """Install a cluster's discovered endpoint set; True when it differs from the one held."""
        ...

    def discovered(self) -> Mapping[str, tuple[str, ...]]:
        """Every cluster's discovered endpoint set, as last installed."""
        ...
