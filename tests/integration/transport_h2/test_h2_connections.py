"""h2 connector connections: keepalive drops a silent upstream, GOAWAY drains then closes, pool spills over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response
from sidecar.core.transport import H2Settings, ListenerSpec, Switch, WireLimits
from sidecar.transport.h2.connector import H2Connector
from sidecar.transport.h2.listener import H2Listener


async def _one(message: bytes = b"") -> object:
    yield message


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition (ordering, not timing: the bound only stops a hung test)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def _request() -> Request:
    return Request(CallDescriptor(method="/t.S/M"), _one())  # type: ignore[arg-type]


def test_keepalive_drops_an_upstream_that_stops_answering() -> None:
    async def main() -> Status:
        async def blackhole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(65536):
                pass  # accepts and reads, never answers (not even SETTINGS or PING ACK)

        server = await asyncio.start_server(blackhole, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connector = H2Connector(settings=H2Settings(keepalive_interval=0.1))
        upstream = await connector(f"127.0.0.1:{port}", "", _request())
        status = await asyncio.wait_for(upstream.status(), 10)
        await connector.close()
        server.close()
        return status

    status = asyncio.run(main())
    assert status.code is Code.UNAVAILABLE and "lost" in status.details


def _listener(service_gate: asyncio.Event, limits: WireLimits | None = None) -> H2Listener:
    async def service(request: Request) -> Response:
        await service_gate.wait()
        return BufferedResponse(Status(Code.OK), [b"done"])

    return H2Listener(ListenerSpec("t", "127.0.0.1:0", limits=limits or WireLimits()), Switch(service))


def test_goaway_lets_the_open_call_finish_then_the_connection_closes() -> None:
    async def main() -> tuple[Status, bytes | None, bool, Status]:
        gate = asyncio.Event()
        listener = _listener(gate)
        address = await listener.start()
        connector = H2Connector()
        upstream = await connector(address, "", _request())
        await _until(lambda: any(c.calls for c in listener.connections))  # the call reached the listener
        stopping = asyncio.ensure_future(listener.stop(grace=10))
        proto = connector._pool[(address, "")][0]
        await _until(lambda: proto.conn.goaway_received is not None)
        assert not proto.usable
        gate.set()
        message = await upstream.read()
        status = await upstream.status()
        await stopping
        await _until(lambda: proto.transport is None)
        closed = proto.transport is None
        after = await (await connector(address, "", _request())).status()  # listener gone: UNAVAILABLE
        await connector.close()
        return status, message, closed, after

    status, message, closed, after = asyncio.run(main())
    assert status.ok and message == b"done"
    assert closed  # drained, then closed by the connector
    assert after.code is Code.UNAVAILABLE


def test_pool_opens_another_connection_at_the_peers_max_concurrent_streams() -> None:
    async def main() -> tuple[int, list[Status]]:
        gate = asyncio.Event()
        listener = _listener(gate, WireLimits(max_concurrent_streams=3))
        address = await listener.start()
        connector = H2Connector()
        first = await connector(address, "", _request())
        proto = connector._pool[(address, "")][0]
        await _until(lambda: proto.conn.peer_max_streams == 3)  # the peer's SETTINGS arrived
        calls = [first] + [await connector(address, "", _request()) for _ in range(6)]
        connections = len(connector._pool[(address, "")])
        gate.set()
        statuses = [await asyncio.wait_for(c.status(), 10) for c in calls]
        await connector.close()
        await listener.stop(1)
        return connections, statuses

    connections, statuses = asyncio.run(main())
    assert connections == 3  # 7 calls, 3 streams per connection
    assert all(s.ok for s in statuses)


def test_listener_closes_a_connection_that_never_sends_its_preface() -> None:
    async def main() -> bytes:
        listener = _listener(asyncio.Event())
        listener.header_timeout = 0.1
        host, _, port = (await listener.start()).rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"PRI * HTTP/2.0\r\n")  # half a preface, then silence (slowloris)
        async with asyncio.timeout(10):
            received = b""
            while chunk := await reader.read(65536):
                received += chunk
        writer.close()
        await listener.stop(0)
        return received

    received = asyncio.run(main())
    assert received.startswith(b"\x00\x00")  # our SETTINGS went out, then the server closed (EOF)


def test_listener_closes_an_idle_connection_with_goaway() -> None:
    async def main() -> bool:
        listener = _listener(asyncio.Event())
        listener.idle_timeout = 0.1
        listener.header_timeout = 0.1  # the idle checks start once the preface is in
        address = await listener.start()
        connector = H2Connector()
        gate_free = await connector(address, "", _request())  # opens the connection ...
        gate_free.cancel()  # ... and leaves it without calls
        proto = connector._pool[(address, "")][0]
        await _until(lambda: proto.transport is None)
        goaway = proto.conn.goaway_received is not None
        await connector.close()
        await listener.stop(0)
        return goaway

    assert asyncio.run(main())


def test_an_upstream_that_sends_goaway_at_once_answers_unavailable() -> None:
    async def main() -> Status:
        async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + bytes(8))  # GOAWAY(last 0, NO_ERROR)
            writer.close()

        server = await asyncio.start_server(slam, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connector = H2Connector()
        upstream = await asyncio.wait_for(connector(f"127.0.0.1:{port}", "", _request()), 10)
        status = await asyncio.wait_for(upstream.status(), 10)
        await connector.close()
        server.close()
        return status

    assert asyncio.run(main()).code is Code.UNAVAILABLE
