"""ClusterService end to end on a fake clock: caps → pick → connector, outcomes fed back per endpoint."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

from hypothesis import event, given, settings
from hypothesis import strategies as st

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.cluster.service import ClusterService
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.layers.outlier.detector import State as OutlierState
from sidecar.policy.address import Address
from sidecar.policy.cluster_model import ConcurrencyLimits, LoadBalancerPolicy, OutlierPolicy
from sidecar.policy.model import Cluster, Endpoint, Policy, Route, RouteTable
from sidecar.runtime import stack

A, B, C = "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedConnector:
    """Answers from a per-address status table (our Connector protocol; no network involved)."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.broken: set[str] = set()
        self.calls: list[str] = []

    async def __call__(self, address: str, authority: str, request: Request) -> BufferedResponse:
        self.calls.append(address)
        if address in self.broken:
            raise OSError("connection refused")
        if address in self.failing:
            return BufferedResponse(Status(Code.UNAVAILABLE, "down"))
        return BufferedResponse(Status(Code.OK), [b"ok"])


class Built:
    """A cluster stack as runtime/stack.py builds it (admission when limited → balancer → connector)."""

    def __init__(self, built: stack.ClusterStack) -> None:
        self.service = built.service
        self.names = built.names
        self.runtime = built.balancer.runtime
        self.endpoints = built.balancer.endpoints
        self.healthy = built.balancer.healthy

    async def __call__(self, request: Request) -> Response:
        return await self.service(request)


def make(
    outlier: OutlierPolicy | None = None, limits: ConcurrencyLimits | None = None, panic: float = 50.0
) -> tuple[Built, ScriptedConnector, Clock]:
    cluster = Cluster(
        name="c",
        endpoints=tuple(Endpoint(Address(a.split(":")[0], 1)) for a in (A, B, C)),
        load_balancer=LoadBalancerPolicy(panic_threshold=panic),
        outlier=outlier,
        limits=limits,
    )
    clock = Clock()
    connector = ScriptedConnector()
    runtime = ClusterRuntime(cluster, clock, random.Random(1))
    built = Built(stack.cluster_stack(cluster, EndpointSet(cluster), runtime, connector, None))
    assert isinstance(built.service, ClusterService) == (limits is None)
    return built, connector, clock


async def call(service: Built) -> Status:
    request = Request(CallDescriptor("/pkg.S/M"), no_messages())
    response = await service(request)
    await response.initial_metadata()
    while await response.read() is not None:
        pass
    status = await response.status()
    request.finish(status)
    return status


OUTLIER = OutlierPolicy(consecutive_failures=2, base_ejection_time=10.0, max_ejection_percent=50)


def test_failing_endpoint_is_ejected_skipped_probed_and_readmitted() -> None:
    async def main() -> None:
        service, conn, clock = make(OUTLIER)
        conn.failing.add(A)
        statuses = [await call(service) for _ in range(6)]  # A fails on picks 1 and 4
        assert [s.code for s in statuses].count(Code.UNAVAILABLE) == 2
        detector = service.runtime.outlier
        assert detector is not None and detector.endpoints[A].state is OutlierState.EJECTED
        conn.calls.clear()
        assert all([(await call(service)).ok for _ in range(10)])
        assert A not in conn.calls
        clock.now += 10.0  # ejection over: half-open, and A has recovered
        conn.failing.clear()
        conn.calls.clear()
        for _ in range(3):
            await call(service)
        assert A in conn.calls  # probed
        assert detector.endpoints[A].state is OutlierState.ACTIVE
        assert service.healthy()

    asyncio.run(main())


def test_connector_errors_become_unavailable_and_count_as_connect_failures() -> None:
    async def main() -> None:
        service, conn, _ = make(OUTLIER)
        conn.broken.add(B)
        statuses = [await call(service) for _ in range(6)]
        failed = [s for s in statuses if not s.ok]
        assert len(failed) == 2 and failed[0].details == "apex: could not connect to an endpoint of cluster 'c'"
        assert service.runtime.outlier is not None
        assert service.runtime.outlier.endpoints[B].state is OutlierState.EJECTED
        assert all(load.in_flight == 0 for load in service.runtime.loads.values())

    asyncio.run(main())


def test_all_ejected_panic_mode_and_healthy() -> None:
    async def main() -> None:
        everyone = replace(OUTLIER, max_ejection_percent=100)
        service, conn, _ = make(everyone, panic=0.0)
        conn.failing.update({A, B, C})
        for _ in range(6):
            await call(service)
        assert not service.healthy()
        status = await call(service)
        assert status.code is Code.UNAVAILABLE and "no available endpoint" in status.details
        panicking, conn2, _ = make(everyone, panic=50.0)
        conn2.failing.update({A, B, C})
        for _ in range(6):
            await call(panicking)
        conn2.calls.clear()
        await call(panicking)
        assert conn2.calls and panicking.runtime.counters["panic_picks"] >= 1

    asyncio.run(main())


def test_caps_reject_and_in_flight_returns_to_zero_under_cancellation() -> None:
    async def main() -> None:
        service, _, _ = make(limits=ConcurrencyLimits(max_requests=2))
        held = [Request(CallDescriptor("/pkg.S/M"), no_messages()) for _ in range(3)]
        responses = [await service(r) for r in held]
        assert (await responses[2].status()).code is Code.UNAVAILABLE  # over the cap, fails fast
        held[2].finish(await responses[2].status())
        assert sum(ld.in_flight for ld in service.runtime.loads.values()) == 2
        for r in held[:2]:
            r.finish(Status(Code.CANCELLED, "cancelled by the caller"))  # the caller went away
        assert sum(ld.in_flight for ld in service.runtime.loads.values()) == 0
        assert service.runtime.admission.caps.in_flight == 0

    asyncio.run(main())


def test_state_survives_a_policy_swap_and_reconfigures_in_place() -> None:
    service, conn, clock = make(OUTLIER)
    cluster = service.runtime.cluster
    state = stack.State()
    runtime = state.cluster_runtime(cluster)
    assert state.cluster_runtime(cluster) is runtime
    runtime.sync(service.endpoints.current, clock())
    detector = runtime.outlier
    assert detector is not None
    for _ in range(2):
        detector.record(A, Status(Code.INTERNAL), clock(), probe=False)
    tuned = replace(cluster, outlier=replace(OUTLIER, base_ejection_time=5.0))
    assert state.cluster_runtime(tuned) is runtime and runtime.outlier is detector
    assert detector.endpoints[A].state is OutlierState.EJECTED
    assert state.cluster_runtime(replace(tuned, outlier=None)).outlier is None  # dropped: all readmitted
    endpoints = state.endpoint_set(cluster)
    assert state.endpoint_set(tuned) is endpoints  # discovery unchanged: resolved set kept

    # build() prunes the runtime of a removed cluster
    other = Cluster(name="d", endpoints=(Endpoint(Address("10.0.0.9", 1)),))
    table = RouteTable("t", (Route("r", "d"),))
    stack.build(Policy("v2", (table,), (other,)), (), state, lambda _transport: conn)
    assert set(state.clusters) == {"d"}


STATUSES = [Status(Code.OK), Status(Code.OK), Status(Code.UNAVAILABLE, "x"), Status(Code.CANCELLED, "gone")]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.lists(
        st.tuples(st.sampled_from(["start", "start", "finish", "finish", "tick"]), st.integers(0, 30)), max_size=120
    ),
    st.integers(1, 3),
)
def test_in_flight_probes_and_slots_return_to_zero(seed: int, ops: list[tuple[str, int]], probes: int) -> None:
    """Random interleavings of calls, outcomes (incl. cancellation) and time: nothing leaks."""
    rng = random.Random(seed)
    outlier = OutlierPolicy(
        consecutive_failures=1, base_ejection_time=1.0, max_ejection_percent=100, half_open_probes=probes
    )
    service, _, clock = make(outlier, ConcurrencyLimits(max_requests=4, max_retries=1), panic=0.0)

    async def main() -> None:
        open_calls: list[Request] = []
        for op, n in ops:
            if op == "start":
                req = Request(CallDescriptor("/pkg.S/M"), no_messages(), attempt=int(n % 5 == 0))
                response = await service(req)
                status = await response.status()
                if status.ok:
                    open_calls.append(req)  # the connector answered: in flight until finished
                else:
                    req.finish(status)  # rejected locally (cap, no endpoint)
            elif op == "finish" and open_calls:
                open_calls.pop(n % len(open_calls)).finish(rng.choice(STATUSES))
            else:
                clock.now += n / 10
        for req in open_calls:
            req.finish(rng.choice(STATUSES))

    asyncio.run(main())
    runtime = service.runtime
    assert all(load.in_flight == 0 for load in runtime.loads.values())
    caps = runtime.admission.caps
    assert (caps.in_flight, caps.pending, caps.retries) == (0, 0, 0)
    assert runtime.outlier is not None
    event(
        f"ejected {runtime.outlier.counters['ejections'] > 0} half-open {runtime.outlier.counters['half_opened'] > 0}"
    )
    shut = runtime.outlier.unavailable(clock.now)
    for address, ep in runtime.outlier.endpoints.items():
        assert (address in shut) == (not ep.gate.admits())  # the skip set follows the gates
        assert ep.probes_out == 0
        if ep.state is OutlierState.HALF_OPEN:
            assert ep.gate.permits + ep.probe_successes == probes
