"""grpc-core's own transport failures reach the caller without addresses; upstream statuses pass unchanged."""

from __future__ import annotations

from sidecar.core.call import CallDescriptor, Code
from sidecar.layers.outlier.detector import is_connect_failure
from sidecar.transport.grpc_aio.client import UPSTREAM_LOST, UPSTREAM_UNREACHABLE, _status

CALL = CallDescriptor("/pkg.Svc/Do", metadata=(("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"),))


class Raw:
    def __init__(self, code: Code, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> int:
        return int(self._code)

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return (("x-kept", "1"),)


def test_connect_failures_are_hidden_and_still_count_as_connect_failures() -> None:
    raw = Raw(Code.UNAVAILABLE, "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.7:50051: refused")
    status = _status(raw, CALL)
    assert status.details == UPSTREAM_UNREACHABLE and status.trailing_metadata == (("x-kept", "1"),)
    assert is_connect_failure(status)  # the outlier detector still sees a connect failure


def test_a_lost_connection_is_hidden() -> None:
    assert _status(Raw(Code.UNAVAILABLE, "Socket closed"), CALL).details == UPSTREAM_LOST
    assert _status(Raw(Code.UNAVAILABLE, "recvmsg:Connection reset by peer"), CALL).details == UPSTREAM_LOST


def test_upstream_statuses_pass_unchanged() -> None:
    for code, details in [
        (Code.UNAVAILABLE, "ipv4:10.0.0.7:50051 is draining"),
        (Code.NOT_FOUND, "failed to connect to all addresses"),  # not a transport code: the upstream said it
        (Code.INTERNAL, "database said no"),
    ]:
        assert _status(Raw(code, details), CALL).details == details
