"""The balancer stage of a cluster's stack: pick an endpoint outlier detection and health allow, call it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sidecar.core import errors
from sidecar.core.call import Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Connector, Request, Response, local_error
from sidecar.discovery.endpoints import EndpointSet
from sidecar.layers.balance.load import EndpointLoad
from sidecar.layers.cluster.state import ClusterRuntime
from sidecar.policy.cluster_model import BalancerKind


class _Attempt:
    """One call to one endpoint: its latency sample and its outcome, fed back exactly once."""

    __slots__ = ("clock", "load", "probe", "runtime", "sampled", "started")

    def __init__(self, runtime: ClusterRuntime, load: EndpointLoad, probe: bool, started: float) -> None:
        self.runtime = runtime
        self.load = load
        self.probe = probe
        self.started = started
        self.sampled = False
        self.clock = runtime.clock
        load.in_flight += 1

    def sample(self) -> None:
        """Latency = time to the response headers with peak_ewma (else, and for trailers-only answers, to the end)."""
        if not self.sampled:
            self.sampled = True
            now = self.clock()
            self.load.ewma.observe(now - self.started, now)

    def __call__(self, status: Status) -> None:  # Request.on_finish
        self.load.in_flight -= 1
        self.sample()
        self.runtime.record(self.load.address, status, self.clock(), self.probe)


class _TimedResponse:
    """Passes the upstream response through, sampling latency when its headers arrive."""

    __slots__ = ("_attempt", "_inner")

    def __init__(self, inner: Response, attempt: _Attempt) -> None:
        self._inner = inner
        self._attempt = attempt

    async def initial_metadata(self) -> Metadata:
        headers = await self._inner.initial_metadata()
        self._attempt.sample()
        return headers

    async def read(self) -> bytes | None:
        return await self._inner.read()

    async def status(self) -> Status:
        return await self._inner.status()

    def cancel(self) -> None:
        self._inner.cancel()


class ClusterService:
    """Balance each call over the endpoints the runtime allows; feed each outcome back to the endpoint.

    Below it sit the endpoint layers and the connector; above it the admission layer (caps) when
    the cluster has limits (runtime/stack.py lists the whole cluster stack).
    """

    name = "balancer"
    __slots__ = ("_authority", "_clock", "_connector", "endpoints", "runtime")

    def __init__(
        self,
        endpoints: EndpointSet,
        connector: Connector,
        runtime: ClusterRuntime | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.endpoints = endpoints
        self._connector = connector
        self._authority = endpoints.cluster.authority
        self.runtime = runtime or ClusterRuntime(endpoints.cluster)
        self._clock = clock or self.runtime.clock

    @property
    def names(self) -> tuple[str, ...]:
        """ "balancer:<kind>", then the endpoint filters it applies (outlier, health) as configured."""
        runtime = self.runtime
        filters = tuple(f.name for f in (runtime.outlier, runtime.health) if f is not None)
        return (f"{self.name}:{runtime.cluster.load_balancer.kind.value}", *filters)

    def healthy(self) -> bool:
        """At least one endpoint is resolved and neither ejected nor failing health checks."""
        runtime = self.runtime
        runtime.sync(self.endpoints.current, self._clock())
        return runtime.healthy()

    async def __call__(self, request: Request) -> Response:
        runtime = self.runtime
        now = self._clock()
        runtime.sync(self.endpoints.current, now)
        load, probe = runtime.pick(now)
        if load is None:
            runtime.counters["no_endpoint"] += 1
            why = "has no resolved endpoints" if not runtime.loads else "has no available endpoint (all ejected)"
            return local_error(Code.UNAVAILABLE, f"apex: cluster {runtime.name!r} {why}")
        attempt = _Attempt(runtime, load, probe, now)
        request.on_finish(attempt)
        try:
            response = await self._connector(load.address, self._authority, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connector could not even start the call
            return BufferedResponse(  # the address and the exception text go to the log, not to the caller
                errors.hidden(request.call, Code.UNAVAILABLE, f"apex: could not connect to an endpoint of cluster "
                              f"{runtime.name!r}", f"{load.address}: {exc!r}")
            )  # fmt: skip
        if response.connecting:
            # Connection setup is not the endpoint's latency (linkerd only balances ready endpoints).
            attempt.sampled = True
        elif runtime.cluster.load_balancer.kind is BalancerKind.PEAK_EWMA:
            return _TimedResponse(response, attempt)  # sample at the headers, not at the end of a long stream
        return response
