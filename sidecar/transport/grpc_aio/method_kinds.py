"""Which methods are unary: learned from the upstream's gRPC reflection (pure bookkeeping).

The call kind is not on the wire, so by default the sidecar relays every call as a bidi byte
stream. Once a service's descriptors are known, its unary methods take the cheaper unary relay
(one batch each way instead of a stream's several). A service whose upstream has no reflection
stays on the stream path; it is asked again after `retry_after` seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from google.protobuf import descriptor_pb2


class Kind(enum.Enum):
    UNARY = "unary"
    CLIENT_STREAMING = "client_streaming"
    SERVER_STREAMING = "server_streaming"
    BIDI = "bidi"


def kinds_from_files(service: str, files: Iterable[bytes]) -> dict[str, Kind]:
    """Method path → kind for `service` ("pkg.Service"), read from serialized FileDescriptorProtos."""
    found: dict[str, Kind] = {}
    for raw in files:
        fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        for svc in fd.service:
            full = f"{fd.package}.{svc.name}" if fd.package else svc.name
            if full != service:
                continue
            for m in svc.method:
                if m.client_streaming and m.server_streaming:
                    kind = Kind.BIDI
                elif m.client_streaming:
                    kind = Kind.CLIENT_STREAMING
                elif m.server_streaming:
                    kind = Kind.SERVER_STREAMING
                else:
                    kind = Kind.UNARY
                found[f"/{service}/{m.name}"] = kind
    return found


class MethodKinds:
    """What is known about method kinds, and which services are worth asking about now."""

    def __init__(self, retry_after: float = 300.0) -> None:
        self.retry_after = retry_after
        self._kinds: dict[str, Kind] = {}
        self._asked: dict[str, float] = {}  # service -> when it was last asked about

    def get(self, method: str) -> Kind | None:
        return self._kinds.get(method)

    def is_unary(self, method: str) -> bool:
        return self._kinds.get(method) is Kind.UNARY

    def should_ask(self, service: str, now: float) -> bool:
        """True once per service (and again after retry_after when the answer was nothing)."""
        asked = self._asked.get(service)
        if asked is not None and (asked == float("inf") or now - asked < self.retry_after):
            return False
        self._asked[service] = now
        return True

    def learn(self, service: str, kinds: dict[str, Kind]) -> None:
        """Record a service's methods; an empty answer leaves it to be asked again later."""
        self._kinds.update(kinds)
        if kinds:
            self._asked[service] = float("inf")

    def snapshot(self) -> dict[str, str]:
        return {method: kind.value for method, kind in sorted(self._kinds.items())}
