"""The deadline layer (fake clock), the metrics layer's counts and Request.finish."""

from __future__ import annotations

import asyncio

import pytest

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages, stack
from sidecar.layers import metrics, timeout
from sidecar.telemetry.registry import Series


async def _ok(request: Request) -> Response:
    return BufferedResponse(Status(Code.OK))


def _call(deadline: float | None) -> Request:
    return Request(CallDescriptor("/a.B/C", deadline=deadline), no_messages())


@pytest.mark.parametrize(
    ("deadline", "now", "code"),
    [(None, 100.0, Code.OK), (101.0, 100.0, Code.OK), (100.0001, 100.0, Code.DEADLINE_EXCEEDED),
     (99.0, 100.0, Code.DEADLINE_EXCEEDED)],
)  # fmt: skip
def test_deadline_layer(deadline: float | None, now: float, code: Code) -> None:
    service = timeout.Deadline(clock=lambda: now)(_ok)

    async def run() -> Status:
        return await (await service(_call(deadline))).status()

    assert asyncio.run(run()).code is code


def test_counters_track_in_flight_and_codes() -> None:
    counters = Series()
    service = stack([metrics.Metrics(counters, detail=False)], _ok)

    async def run() -> None:
        a, b = _call(None), _call(None)
        await service(a)
        await service(b)
        assert counters.in_flight == 2
        a.finish(Status(Code.OK))
        b.finish(Status(Code.UNAVAILABLE))
        b.finish(Status(Code.OK))  # finishing twice changes nothing

    asyncio.run(run())
    assert counters.started == counters.finished == 2 and counters.in_flight == 0 and counters.errors == 1
    assert counters.codes == {Code.OK: 1, Code.UNAVAILABLE: 1}
    assert counters.latency.count == 0  # counts only: no latency without detail


def test_finish_callback_errors_do_not_escape() -> None:
    request = _call(None)
    seen: list[Code] = []
    request.on_finish(lambda s: 1 / 0)  # type: ignore[func-returns-value]
    request.on_finish(lambda s: seen.append(s.code))
    request.finish(Status(Code.CANCELLED))
    assert seen == [Code.CANCELLED]
    with pytest.raises(RuntimeError):
        request.on_finish(lambda s: None)
