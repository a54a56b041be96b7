"""The call descriptor, status codes and final status: what policies decide from, without grpc."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

MetadataValue = str | bytes
Metadata = tuple[tuple[str, MetadataValue], ...]


class Code(enum.IntEnum):
    """gRPC status codes (same numbers as the wire), so layers never import grpc."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


@dataclass(frozen=True, slots=True)
class Status:
    """How a call ended: code, message and trailing metadata."""

    code: Code
    details: str = ""
    trailing_metadata: Metadata = ()

    @property
    def ok(self) -> bool:
        return self.code is Code.OK


@dataclass(frozen=True, slots=True)
class CallDescriptor:
    """What is known about a call when it arrives, before any message is read.

    `deadline` is absolute, on the `time.monotonic()` clock, or None when the caller set none.
    """

    method: str  # "/pkg.Service/Method"
    authority: str = ""
    metadata: Metadata = ()
    deadline: float | None = None
    listener: str = ""
    peer: str = ""
    # The caller's authenticated identity (its SPIFFE ID from mTLS), "" when unauthenticated.
    principal: str = ""
    # Set by the authn layer from a verified JWT: "<iss>/<sub>" and the token's claims.
    request_principal: str = ""
    claims: Mapping[str, object] | None = field(default=None, hash=False)

    @property
    def service(self) -> str:
        """The gRPC service part of the method path ("pkg.Service")."""
        return self.method[1:].rpartition("/")[0]

    def header(self, name: str) -> MetadataValue | None:
        """The first value of metadata key `name` (lower-case), or None."""
        for key, value in self.metadata:
            if key == name:
                return value
        return None

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline at time `now` (may be negative), or None."""
        return None if self.deadline is None else self.deadline - now


@dataclass(slots=True)
class CallOutcome:
    """Filled in as a call proceeds; read by observers when it finishes."""

    route: str = ""
    cluster: str = ""
    endpoint: str = ""
    extra: dict[str, object] = field(default_factory=dict)
