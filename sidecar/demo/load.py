"""Open-loop load on the frontend following a daily traffic shape compressed into minutes."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc
from apex.mesh.v1 import shop_pb2, shop_pb2_grpc


def daily_rate(t: float, period: float, peak: float) -> float:
    """Calls/s at `t` seconds into a day squeezed into `period` seconds: a night trough at a
    fifth of the peak, a morning ramp, a midday peak and an evening shoulder."""
    phase = (t % period) / period  # 0 = midnight
    day = math.sin(math.pi * phase) ** 2  # 0 at midnight, 1 at noon
    evening = 0.25 * math.exp(-(((phase - 0.8) / 0.06) ** 2))
    return peak * min(1.0, 0.2 + 0.8 * day + evening)


@dataclass
class Second:
    """What the load generator saw during one wall-clock second."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


class LoadGenerator:
    """Sends ViewItem calls at the scheduled rate; latency counts from the scheduled send time."""

    def __init__(self, address: str, period: float, peak: float, seed: int = 42, items: int = 50) -> None:
        self.address = address
        self.period = period
        self.peak = peak
        self.rng = random.Random(seed)
        self.items = items
        self.seconds: dict[int, Second] = {}
        self.in_flight = 0
        self.max_in_flight = 256
        self.dropped = 0  # calls not sent because too many were already in flight
        self.cancelled = 0  # calls still in flight when the load stopped (Ctrl-C, end of --duration)
        self.codes: Counter[str] = Counter()  # failed calls by gRPC status (UNAVAILABLE, DEADLINE_EXCEEDED, ...)
        self.started = 0.0

    def bucket(self, t: float) -> Second:
        return self.seconds.setdefault(int(t - self.started), Second())

    async def _one(self, stub: shop_pb2_grpc.FrontendStub, scheduled: float) -> None:
        item = str(int(self.rng.paretovariate(1.2)) % self.items)  # a few items are hot
        self.in_flight += 1
        try:
            await stub.ViewItem(shop_pb2.ViewItemRequest(item_id=item), timeout=2.0)
            ok = True
        except grpc.aio.AioRpcError as err:
            ok = False
            self.codes[err.code().name] += 1
        except asyncio.CancelledError:
            self.cancelled += 1  # sent, never answered: counted so that sent = ok + failed + cancelled
            raise
        finally:
            self.in_flight -= 1
        now = time.monotonic()
        sec = self.bucket(scheduled)
        sec.latencies.append(now - scheduled)
        if ok:
            sec.ok += 1
        else:
            sec.errors += 1

    async def run(self, duration: float) -> None:
        self.started = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = shop_pb2_grpc.FrontendStub(channel)
            next_send = self.started
            try:
                while (now := time.monotonic()) < self.started + duration:
                    if now < next_send:
                        await asyncio.sleep(min(next_send - now, 0.05))
                        continue
                    rate = max(1.0, daily_rate(next_send - self.started, self.period, self.peak))
                    if self.in_flight < self.max_in_flight:
                        self.bucket(next_send).sent += 1
                        task = asyncio.create_task(self._one(stub, next_send))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                    else:
                        self.dropped += 1
                    next_send += self.rng.expovariate(rate)  # Poisson arrivals at the scheduled rate
                if tasks:
                    await asyncio.wait(tasks, timeout=5)
            finally:  # stopped (Ctrl-C) or done: what is still in flight is cancelled, and counted
                left = list(tasks)
                for task in left:
                    task.cancel()
                if left:
                    await asyncio.gather(*left, return_exceptions=True)

    def totals(self) -> tuple[int, int, int]:
        secs = self.seconds.values()
        return sum(s.sent for s in secs), sum(s.ok for s in secs), sum(s.errors for s in secs)
