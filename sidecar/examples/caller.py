"""An example client app: calls Echo.Unary at a steady rate through its local sidecar's outbound listener.

It is the "app" in the deployment examples (docker-compose.yaml, deploy/k8s/): it only knows
`--target` (its sidecar, e.g. 127.0.0.1:15001) and the service it wants (`--authority echo`); the
sidecar routes the call across the mesh. Prints a line per second: calls, errors, last reply's server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections import Counter

import grpc
import uvloop
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc


async def run(target: str, authority: str, rate: float, count: int, size: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    options = [("grpc.default_authority", authority)] if authority else []
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        stub = echo_pb2_grpc.EchoStub(channel)
        request = echo_pb2.EchoRequest(payload=b"x" * size)
        outcomes: Counter[str] = Counter()
        served_by = ""
        sent = 0
        next_report = time.monotonic() + 1.0
        while not stop.is_set() and (count <= 0 or sent < count):
            sent += 1
            try:
                reply = await stub.Unary(request, timeout=5.0)
                outcomes["OK"] += 1
                served_by = reply.served_by
            except grpc.aio.AioRpcError as exc:
                outcomes[exc.code().name] += 1
            if time.monotonic() >= next_report:
                print(f"calls={sent} outcomes={dict(outcomes)} served_by={served_by!r}", flush=True)
                next_report += 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0 / rate)
        print(f"done: calls={sent} outcomes={dict(outcomes)}", flush=True)
    return 0 if outcomes["OK"] else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Call Echo.Unary through the local sidecar at a steady rate.")
    parser.add_argument("--target", default=os.environ.get("ECHO_TARGET", "127.0.0.1:15001"), help="HOST:PORT")
    parser.add_argument("--authority", default=os.environ.get("ECHO_AUTHORITY", "echo"), help="service to call")
    parser.add_argument("--rate", type=float, default=5.0, help="calls per second (default 5)")
    parser.add_argument("--count", type=int, default=0, help="stop after this many calls (default: run until SIGTERM)")
    parser.add_argument("--payload-size", type=int, default=100)
    args = parser.parse_args()
    raise SystemExit(uvloop.run(run(args.target, args.authority, args.rate, args.count, args.payload_size)))


if __name__ == "__main__":
    main()
