"""Issue 13: CPU per relayed unary gRPC call through a minimal relay built on each HTTP/2 codec candidate.

`python -m benchmarks.h2_candidates [--rounds N] [--duration S]` (or `make bench-h2-candidates`).
Processes: the Echo upstream, one relay per candidate (listener side + connector side in one uvloop
process, asyncio.Protocol), and the grpc.aio load workers. Candidates are measured in interleaved
rounds so machine load hits them alike; the figure kept per case is the median over rounds, and the
ratios to `own` are taken within each round before their median.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

from benchmarks import procstat
from benchmarks.echo_proc import EchoProcess
from benchmarks.h2_codecs import DATA, HEADERS, RESET, Codec, available, codec
from benchmarks.load import Job, Workers, split
from benchmarks.suite import WORKLOADS

CANDIDATES = ("h2", "own", "ngh2")


class _Up(asyncio.Protocol):
    """The connector side: one multiplexed connection to the upstream."""

    def __init__(self, name: str) -> None:
        self.codec: Codec = codec(name, True)
        self.routes: dict[int, tuple[_Down, int]] = {}
        self.answered: set[int] = set()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.codec.pending())

    def data_received(self, data: bytes) -> None:
        touched: set[_Down] = set()
        for kind, sid, value, end in self.codec.receive(data):
            route = self.routes.get(sid)
            if route is None:
                continue
            down, dsid = route
            touched.add(down)
            try:
                if kind == HEADERS:
                    if sid in self.answered:
                        down.codec.trailers(dsid, value)
                    else:
                        self.answered.add(sid)
                        down.codec.respond(dsid, value, end)
                elif kind == DATA:
                    down.codec.data(dsid, value, end)
                elif kind == RESET:
                    down.codec.reset(dsid, value)
                    end = True
            except Exception:  # the caller went away: drop the upstream stream too
                self.codec.reset(sid, 8)
                end = True
            if end:
                del self.routes[sid]
                self.answered.discard(sid)
                down.routes.pop(dsid, None)
        self.flush()
        for down in touched:
            down.flush()

    def flush(self) -> None:
        out = self.codec.pending()
        if out:
            self.transport.write(out)


class _Down(asyncio.Protocol):
    """The listener side: one accepted client connection."""

    def __init__(self, name: str, up: _Up) -> None:
        self.codec: Codec = codec(name, False)
        self.up = up
        self.routes: dict[int, int] = {}
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.codec.pending())

    def data_received(self, data: bytes) -> None:
        up = self.up
        for kind, sid, value, end in self.codec.receive(data):
            if kind == HEADERS:
                try:
                    usid = up.codec.request(value, end)
                except Exception:
                    self.codec.reset(sid, 7)  # REFUSED_STREAM
                    continue
                self.routes[sid] = usid
                up.routes[usid] = (self, sid)
            elif kind == DATA:
                usid = self.routes.get(sid, 0)
                if usid:
                    up.codec.data(usid, value, end)
            elif kind == RESET:
                usid = self.routes.pop(sid, 0)
                if usid:
                    up.codec.reset(usid, value)
                    up.routes.pop(usid, None)
        up.flush()
        self.flush()

    def flush(self) -> None:
        out = self.codec.pending()
        if out:
            self.transport.write(out)


def _relay_main(conn: Connection, name: str, upstream: str) -> None:
    import uvloop

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        host, port = upstream.rsplit(":", 1)
        up = _Up(name)
        await loop.create_connection(lambda: up, host, int(port))
        server = await loop.create_server(lambda: _Down(name, up), "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, conn.recv)
        server.close()

    uvloop.run(serve())


class Relay:
    def __init__(self, name: str, upstream: str) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_relay_main, args=(child, name, upstream), name=f"apex-h2-{name}", daemon=True)
        self._proc.start()
        child.close()
        if not self._conn.poll(30):
            self.close()
            raise RuntimeError(f"relay {name} did not start")
        self.address = f"127.0.0.1:{self._conn.recv()}"
        self.pid = self._proc.pid or 0

    def close(self) -> None:
        if self._proc.is_alive():
            self._conn.send(None)
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)


class Sidecar:
    """A whole sidecar (inbound listener -> Echo cluster, every default layer) on one transport."""

    def __init__(self, transport: str, upstream: str) -> None:
        from benchmarks.targets import inbound_config
        from sidecar.support.sidecar_proc import SidecarProcess

        config = inbound_config(upstream)
        config["listeners"][0]["transport"] = transport
        config["policy"]["clusters"][0]["transport"] = transport
        self._proc = SidecarProcess(config, args=["--log-level", "WARNING"]).start()
        self.address = self._proc["inbound"]
        assert self._proc.proc is not None
        self.pid = self._proc.proc.pid

    def close(self) -> None:
        self._proc.stop()
        self._proc.close()


def _run(workers: Workers, relay: Relay | Sidecar, concurrency: int, duration: float) -> dict[str, Any]:
    w = WORKLOADS["unary-100B"]
    job = Job(
        address=relay.address,
        kind="unary",
        method=w.method,
        request=w.request,
        mode="closed",
        concurrency=concurrency,
        start_at=time.monotonic() + 0.2,
        warmup=0.5,
        duration=duration,
    )
    before = procstat.usage(relay.pid)
    outcome = workers.run(split(job, workers.count))
    after = procstat.usage(relay.pid)
    assert before is not None and after is not None
    calls = max(outcome.all_completed, 1)
    return {
        "cpu_us": (after.cpu_s - before.cpu_s) * 1e6 / calls,
        "calls_s": outcome.completed / duration,
        "p50_us": outcome.histogram.summary().get("p50"),
        "errors": dict(outcome.errors),
        "rss_mb": after.rss_kb / 1024,
    }


_REQ = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/apex.mesh.v1.Echo/Unary"),
    (b":authority", b"127.0.0.1:50051"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
    (b"user-agent", b"grpc-python/1.60"),
    (b"grpc-timeout", b"4999m"),
]
_RESP = [(b":status", b"200"), (b"content-type", b"application/grpc")]
_TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]


def codec_cost(name: str, calls: int = 3000) -> float:
    """CPU µs of the codec alone per unary call, client and server ends in memory (no sockets, no loop)."""
    client, server = codec(name, True), codec(name, False)
    message = b"\x00\x00\x00\x00\x68" + b"x" * 104

    def move(a: Codec, b: Codec) -> list[Any]:
        data = a.pending()
        return b.receive(data) if data else []

    for _ in range(2):
        move(client, server)
        move(server, client)
    started = time.process_time()
    for _ in range(calls):
        sid = client.request(_REQ, False)
        client.data(sid, message, True)
        for _kind, ssid, _value, _end in move(client, server):
            sid = ssid
        server.respond(sid, _RESP, False)
        server.data(sid, message, False)
        server.trailers(sid, _TRAILERS)
        move(server, client)
    return (time.process_time() - started) * 1e6 / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--only", nargs="*", default=list(CANDIDATES), help="candidates to measure")
    parser.add_argument("--sidecars", action="store_true", help="also a whole sidecar on transport grpc and h2")
    args = parser.parse_args(argv)
    names = [n for n in CANDIDATES if n in args.only and not available(n)]
    for n in CANDIDATES:
        if why := available(n):
            print(f"skipped {n}: {why}")
    echo = EchoProcess("h2bench")
    relays: dict[str, Relay | Sidecar] = {n: Relay(n, echo.address) for n in names}
    if args.sidecars:
        for transport in ("grpc", "h2"):
            relays[f"sidecar-{transport}"] = Sidecar(transport, echo.address)
    names = list(relays)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    try:
        with Workers(1) as workers:
            for relay in relays.values():
                if err := workers.probe(relay.address, WORKLOADS["unary-100B"].method, WORKLOADS["unary-100B"].request):
                    raise RuntimeError(f"relay at {relay.address} failed a call: {err}")
            for r in range(args.rounds):
                for c in (1, 16):
                    for n in names if r % 2 == 0 else reversed(names):
                        results.setdefault((n, c), []).append(_run(workers, relays[n], c, args.duration))
    finally:
        for relay in relays.values():
            relay.close()
        echo.close()
    print(f"machine: {procstat.cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(
        "| candidate | c | relay CPU µs/call (median) | vs own (median of per-round ratios) "
        "| calls/s | p50 µs | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for c in (1, 16):
        for n in names:
            rows = results[(n, c)]
            ratio = ""
            if ("own", c) in results:
                own = results[("own", c)]
                ratio = f"{statistics.median(a['cpu_us'] / b['cpu_us'] for a, b in zip(rows, own, strict=True)):.2f}x"
            errors: Any = sum(sum(row["errors"].values()) for row in rows)
            if errors:
                errors = {k: v for row in rows for k, v in row["errors"].items()}
            print(
                f"| {n} | {c} | {statistics.median(r['cpu_us'] for r in rows):.0f} | {ratio} | "
                f"{statistics.median(r['calls_s'] for r in rows):.0f} | "
                f"{statistics.median(r['p50_us'] or 0 for r in rows):.0f} | {errors} |"
            )
    print("\ncodec alone, in memory (client + server ends, one unary call, 100 B each way):")
    for n in names:
        if n.startswith("sidecar-"):
            continue
        print(f"  {n}: {statistics.median(codec_cost(n) for _ in range(3)):.1f} µs/call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
