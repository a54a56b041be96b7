"""What mTLS costs between sidecars, per transport (grpc, h2): CPU per call on established connections,
the handshake of a new connection, and a certificate rotation.

One process holds a transport's connector and one of its listeners (the sidecar-to-sidecar hop: both
ends' TLS work is counted), the service behind the listener answering at once. For each transport:

1. CPU per call: `--calls` unary calls, `--concurrency` at a time, on connections already open,
   plaintext and then mTLS; process CPU time (user+sys) per call, best of `--rounds`. Target: mTLS
   adds at most 10% (issue 14).
2. Handshake: `--connections` new connections, one call each (connect + TLS 1.3 handshake + call),
   CPU and wall time per connection, plaintext and mTLS (the connector keeps its credentials and,
   on h2, the SSLContext of the certificate, as in a running sidecar).
3. Rotation: install a new workload certificate on both sides, then the next call (which opens a new
   connection with it); CPU and wall time, and calls failed across `--rotations` rotations under load.

Run: .venv/bin/python -m benchmarks.mtls_cost [--calls 4000 --concurrency 50 --rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from apex.mesh.security.spiffe import SpiffeId

from engines.security.ca import MeshCA
from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response
from sidecar.core.transport import Listener, ListenerSpec, Switch
from sidecar.security.credentials import Credentials, IssuedSource
from sidecar.security.material import TlsMaterial
from sidecar.security.peer import MtlsMode, PeerCheck
from sidecar.security.tls import ClientTls, ListenerTls
from sidecar.transport.grpc_aio.channels import ChannelPool
from sidecar.transport.grpc_aio.client import GrpcConnector
from sidecar.transport.grpc_aio.method_kinds import Kind, MethodKinds
from sidecar.transport.grpc_aio.server import GrpcListener
from sidecar.transport.h2.connector import H2Connector
from sidecar.transport.h2.listener import H2Listener

TD = "cluster.local"
METHOD = "/apex.mesh.v1.Echo/Unary"
PAYLOAD = b"x" * 64
TRANSPORTS = ("grpc", "h2")


def material(ca: MeshCA, service: str, now: float) -> TlsMaterial:
    source = IssuedSource(SpiffeId(TD, "default", service), Credentials())
    answer = ca.sign(source.request(), source.identity, now)
    return source.issued(answer.chain_pem, answer.bundle_pem)


async def _answer(request: Request) -> Response:
    async for _ in request.messages:
        pass
    return BufferedResponse(Status(Code.OK), [PAYLOAD])


async def _one(message: bytes) -> AsyncIterator[bytes]:
    yield message


@dataclass
class Pair:
    """A listener and a connector of one transport, with or without mTLS."""

    transport: str
    mtls: bool
    ca: MeshCA
    server: Credentials | None = None
    client: Credentials | None = None
    listener: Any = None
    connector: Any = None
    kinds: MethodKinds = field(default_factory=MethodKinds)  # grpc: Echo/Unary is known unary (the cheaper relay)
    failures: list[str] = field(default_factory=list)

    async def start(self) -> Pair:
        now = time.time()
        tls = client_tls = None
        if self.mtls:
            self.server = Credentials(material(self.ca, "server", now))
            self.client = Credentials(material(self.ca, "client", now))
            tls = ListenerTls(self.server, PeerCheck(MtlsMode.STRICT, TD))
            client_tls = ClientTls(self.client, TD)
        spec = ListenerSpec("inbound", "127.0.0.1:0", tls=tls)
        listener: Listener
        if self.transport == "h2":
            listener = H2Listener(spec, Switch(_answer))
            self.connector = H2Connector(tls=client_tls)
        else:
            self.kinds.learn("apex.mesh.v1.Echo", {METHOD: Kind.UNARY})
            listener = GrpcListener(spec, Switch(_answer), self.kinds)
            self.connector = GrpcConnector(self.kinds, ChannelPool(tls=client_tls))
        await listener.start()
        self.listener = listener
        return self

    async def call(self) -> None:
        request = Request(CallDescriptor(METHOD), _one(PAYLOAD))
        response = await self.connector(self.listener.bound, "", request)
        while await response.read() is not None:
            pass
        status = await response.status()
        request.finish(status)
        if not status.ok:
            self.failures.append(f"{status.code.name}: {status.details}")

    async def stop(self) -> None:
        await self.connector.close()
        await self.listener.stop(None)


async def _calls(pair: Pair, calls: int, concurrency: int) -> None:
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await pair.call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _cpu(action: Callable[[], Any]) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) of awaiting `action()`."""
    cpu, wall = time.process_time(), time.perf_counter()
    await action()
    return time.process_time() - cpu, time.perf_counter() - wall


@dataclass
class Figures:
    per_call_us: dict[tuple[str, bool], float] = field(default_factory=dict)
    handshake: dict[tuple[str, bool], tuple[float, float]] = field(default_factory=dict)  # (cpu ms, wall ms)
    rotation: dict[str, tuple[float, float, int, int]] = field(default_factory=dict)  # cpu ms, wall ms, calls, failed


async def per_call(transport: str, mtls: bool, ca: MeshCA, calls: int, concurrency: int, rounds: int) -> float:
    pair = await Pair(transport, mtls, ca).start()
    try:
        await _calls(pair, max(concurrency * 4, 200), concurrency)  # warm up: connections open, paths learned
        best = float("inf")
        for _ in range(rounds):
            cpu, _ = await _cpu(lambda: _calls(pair, calls, concurrency))
            best = min(best, cpu / calls * 1e6)
        if pair.failures:
            raise RuntimeError(f"{transport} mtls={mtls}: {len(pair.failures)} failed calls: {pair.failures[:3]}")
        return best
    finally:
        await pair.stop()


async def handshake(transport: str, mtls: bool, ca: MeshCA, connections: int) -> tuple[float, float]:
    pair = await Pair(transport, mtls, ca).start()
    try:
        await pair.call()
        cpus, walls = [], []
        for _ in range(connections):
            # The connector drops its connections (not measured); the next call opens a new one with
            # what a running sidecar keeps: its credentials and (h2) the SSLContext of the certificate.
            await pair.connector.close()
            cpu, wall = await _cpu(pair.call)
            cpus.append(cpu)
            walls.append(wall)
        if pair.failures:
            raise RuntimeError(f"{transport} mtls={mtls}: failed: {pair.failures[:3]}")
        return statistics.median(cpus) * 1e3, statistics.median(walls) * 1e3
    finally:
        await pair.stop()


async def rotation(transport: str, ca: MeshCA, rotations: int, concurrency: int) -> tuple[float, float, int, int]:
    """Median (CPU ms, wall ms) of a rotation plus the next call; calls made and failed meanwhile under load."""
    pair = await Pair(transport, True, ca).start()
    assert pair.server is not None and pair.client is not None
    stop = asyncio.Event()
    done = 0

    async def load() -> None:
        nonlocal done
        while not stop.is_set():
            await pair.call()
            done += 1

    try:
        await pair.call()
        workers = [asyncio.create_task(load()) for _ in range(concurrency)]
        cpus, walls = [], []
        for step in range(rotations):
            await asyncio.sleep(0.05)
            now = time.time() + step

            async def rotate(now: float = now) -> None:
                assert pair.server is not None and pair.client is not None
                pair.server.install(material(ca, "server", now))
                pair.client.install(material(ca, "client", now))
                await pair.call()

            cpu, wall = await _cpu(rotate)
            cpus.append(cpu)
            walls.append(wall)
        stop.set()
        await asyncio.gather(*workers)
        return statistics.median(cpus) * 1e3, statistics.median(walls) * 1e3, done, len(pair.failures)
    finally:
        await pair.stop()


async def measure(
    transports: tuple[str, ...], calls: int, concurrency: int, rounds: int, connections: int, rotations: int
) -> Figures:
    ca = MeshCA.create(TD, time.time())
    figures = Figures()
    for transport in transports:
        for mtls in (False, True):
            figures.per_call_us[(transport, mtls)] = await per_call(transport, mtls, ca, calls, concurrency, rounds)
            figures.handshake[(transport, mtls)] = await handshake(transport, mtls, ca, connections)
        figures.rotation[transport] = await rotation(transport, ca, rotations, min(concurrency, 8))
    return figures


def report(figures: Figures, transports: tuple[str, ...]) -> str:
    lines = ["CPU per call on established connections (listener + connector in one process, both ends' TLS):"]
    for t in transports:
        plain, secure = figures.per_call_us[(t, False)], figures.per_call_us[(t, True)]
        ratio = secure / plain
        lines.append(f"  {t:5s} plaintext {plain:7.1f} µs   mTLS {secure:7.1f} µs   mTLS/plaintext {ratio:.3f}")
    lines.append("New connection + first call (median; CPU ms / wall ms):")
    for t in transports:
        (pc, pw), (sc, sw) = figures.handshake[(t, False)], figures.handshake[(t, True)]
        lines.append(
            f"  {t:5s} plaintext {pc:6.2f} / {pw:6.2f}   mTLS {sc:6.2f} / {sw:6.2f}"
            f"   handshake adds {sc - pc:+.2f} ms CPU"
        )
    lines.append("Rotation (both sides install a new certificate, then a call on a new connection; median):")
    for t in transports:
        cpu, wall, calls, failed = figures.rotation[t]
        lines.append(f"  {t:5s} {cpu:6.2f} ms CPU / {wall:6.2f} ms wall; under load: {calls} calls, {failed} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mtls_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="comma-separated: grpc,h2")
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=30)
    parser.add_argument("--rotations", type=int, default=10)
    args = parser.parse_args(argv)
    transports = tuple(t for t in args.transports.split(",") if t)
    for t in transports:
        if t not in TRANSPORTS:
            parser.error(f"unknown transport {t!r} (grpc, h2)")
    figures = asyncio.run(
        measure(transports, args.calls, args.concurrency, args.rounds, args.connections, args.rotations)
    )
    print(report(figures, transports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
