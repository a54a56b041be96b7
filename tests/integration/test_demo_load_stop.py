"""The demo's load generator, stopped with calls in flight (Ctrl-C): sent = ok + failed + cancelled.

Before: calls cancelled at stop were counted in neither ok nor failed ("sent 161, ok 160, failed 0").
The upstream is a TCP socket that accepts connections and never answers, so calls stay in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from sidecar.demo.load import LoadGenerator

pytestmark = pytest.mark.integration


def test_calls_in_flight_at_stop_are_counted_as_cancelled() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    load = LoadGenerator(address, period=10.0, peak=200.0)

    async def main() -> None:
        task = asyncio.create_task(load.run(60.0))
        await asyncio.sleep(0.5)
        task.cancel()  # what the demo does on Ctrl-C
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        silent.close()
    sent, ok, failed = load.totals()
    assert sent > 0 and load.cancelled > 0
    assert sent == ok + failed + load.cancelled, (sent, ok, failed, load.cancelled)
