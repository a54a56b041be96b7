"""One scenario endpoint as a real gRPC server process: capacity, median latency, errors, down, key versions.

    python -m benchmarks.scenario_run.upstream --scenario FILE --index I --ports-file F --start-file S
        [--port P] [--time-scale X] [--rate-scale Y] [--seed N]

It serves apex.mesh.v1.Echo/Unary (with reflection, so the sidecar relays it as unary) and behaves as
the scenario's endpoint number I says, on the scenario's clock (t = 0 when the start file appears;
before that it keeps its initial state):

1. down: answer UNAVAILABLE at once;
2. capacity (calls/s before queueing) is a token queue: a call starts service at
   max(now, free_at) and moves free_at on by 1/capacity; a call that would wait more than 1 s
   (QUEUE_SECONDS, as the simulator) is refused with UNAVAILABLE at once. Work is reserved when a
   call arrives, so a call its client abandons still uses capacity (as the simulator: that is what
   makes a retry storm metastable);
3. then a lognormal service time around the median latency (sigma 0.5, as the simulator);
4. with probability error_rate the call ends UNAVAILABLE (after its service time);
5. otherwise it answers; with a cache in the scenario, the request payload is the key and the
   answer is the key's current version (timeline.Updates), from which the load generator measures staleness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc
from grpc_reflection.v1alpha import reflection as grpc_reflection

from benchmarks.scenario_run.timeline import Updates, endpoint_state, scaled
from engines.tune.scenario import Scenario, load

QUEUE_SECONDS = 1.0
SIGMA = 0.5


class ScenarioEndpoint(echo_pb2_grpc.EchoServicer):
    def __init__(self, sc: Scenario, index: int, start_file: Path, seed: int) -> None:
        self.ep = sc.endpoints[index]
        self.name = f"endpoint-{index}"
        self.start_file = start_file
        self.t0: float | None = None
        self.free_at = 0.0
        self.rng = np.random.default_rng([seed, index])
        self.updates = Updates(sc.cache, sc.duration + 60.0, sc.seed) if sc.cache is not None else None
        self.calls = 0

    def now(self) -> float:
        """Seconds on the scenario's clock (0 until the start file appears)."""
        if self.t0 is None:
            try:
                self.t0 = float(self.start_file.read_text())
            except (OSError, ValueError):
                return 0.0
        return max(time.monotonic() - self.t0, 0.0)

    async def Unary(self, request: echo_pb2.EchoRequest, context: Any) -> echo_pb2.EchoResponse:
        self.calls += 1
        t = self.now()
        state = endpoint_state(self.ep, t)
        if state.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} is down")
        now = time.monotonic()
        start = max(now, self.free_at)
        wait = start - now
        if wait > QUEUE_SECONDS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name}: queue full")
        self.free_at = start + 1.0 / state.capacity
        service = state.latency * math.exp(SIGMA * float(self.rng.standard_normal()))
        await asyncio.sleep(wait + service)
        if state.error_rate and self.rng.random() < state.error_rate:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name}: injected error")
        payload = b""
        if self.updates is not None:
            try:
                key = int(request.payload)
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "payload: expected a key number")
            payload = str(self.updates.version(key, self.now())).encode()
        return echo_pb2.EchoResponse(payload=payload, served_by=self.name)


async def serve(args: argparse.Namespace) -> None:
    sc = scaled(load(args.scenario), args.time_scale, args.rate_scale)
    if not 0 <= args.index < len(sc.endpoints):
        raise SystemExit(f"--index: the scenario has endpoints 0..{len(sc.endpoints) - 1}, got {args.index}")
    service = ScenarioEndpoint(sc, args.index, Path(args.start_file), args.seed)
    server = grpc.aio.server()
    echo_pb2_grpc.add_EchoServicer_to_server(service, server)
    names = (echo_pb2.DESCRIPTOR.services_by_name["Echo"].full_name, grpc_reflection.SERVICE_NAME)
    grpc_reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        raise SystemExit(f"--port: cannot listen on 127.0.0.1:{args.port}")
    await server.start()
    tmp = Path(args.ports_file + ".tmp")
    tmp.write_text(json.dumps({"address": f"127.0.0.1:{port}", "pid": os.getpid()}))
    tmp.rename(args.ports_file)
    await server.wait_for_termination()


def main() -> None:
    import signal

    import uvloop

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--port", type=int, default=0, help="default 0: any free port")
    p.add_argument("--ports-file", required=True)
    p.add_argument("--start-file", required=True)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--rate-scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # nothing to flush: stop at once
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
