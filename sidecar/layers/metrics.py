"""Golden metrics: the route's calls, status codes and in-flight (always), latency and bytes when measuring.

`Metrics` is the route's one counting layer: every call is recorded once into the route's
`Series` of the registry, which the admin API (GetStats, RouteAdmin), /metrics and telemetry
windows all read. `EndpointMetrics` sits between a cluster's balancer and the connector so every
attempt is counted on the endpoint it went to, with its bytes. Only integer bumps and one
histogram record per call happen here; readers copy later.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from sidecar.core.call import Metadata, Status
from sidecar.core.service import Connector, Request, Response, Service, Upstream
from sidecar.telemetry.registry import Registry, Series

_clock = time.perf_counter


class CountedMessages:
    """A request message stream adding each message's size to one or more series."""

    __slots__ = ("_inner", "series")

    def __init__(self, inner: AsyncIterator[bytes], series: tuple[Series, ...]) -> None:
        self._inner = inner
        self.series = series

    def __aiter__(self) -> CountedMessages:
        return self

    async def __anext__(self) -> bytes:
        message = await self._inner.__anext__()
        size = len(message)
        for series in self.series:
            series.request_bytes += size
        return message

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


def count_requests(request: Request, series: Series) -> None:
    """Count `request`'s message bytes into `series` too (one wrapper however many series)."""
    messages = request.messages
    if type(messages) is CountedMessages:
        messages.series = (*messages.series, series)
    else:
        request.messages = CountedMessages(messages, (series,))


class CountingResponse:
    """A Response that adds the size of each message read to one or more series."""

    __slots__ = ("_inner", "series")

    def __init__(self, inner: Response, series: tuple[Series, ...]) -> None:
        self._inner = inner
        self.series = series

    async def initial_metadata(self) -> Metadata:
        return await self._inner.initial_metadata()

    async def read(self) -> bytes | None:
        message = await self._inner.read()
        if message is not None:
            size = len(message)
            for series in self.series:
                series.response_bytes += size
        return message

    async def status(self) -> Status:
        return await self._inner.status()

    def cancel(self) -> None:
        self._inner.cancel()


class CountingUpstream(CountingResponse):
    """A connector's answer (an Upstream) counted like any response; keeps its `connecting` flag."""

    __slots__ = ("connecting",)

    def __init__(self, inner: Upstream, series: tuple[Series, ...]) -> None:
        super().__init__(inner, series)
        self.connecting = inner.connecting


def count_responses(response: Response, series: Series) -> Response:
    """`response`, counting its message bytes into `series` too (one wrapper however many series)."""
    if type(response) is CountingResponse or type(response) is CountingUpstream:
        response.series = (*response.series, series)
        return response
    return CountingResponse(response, (series,))


class Metrics:
    """Record every call of a route into its series: calls, in-flight and status codes always;
    latency, message bytes and the per-method calls/codes/latency too when `detail` (/metrics or
    telemetry configured)."""

    name = "metrics"

    def __init__(self, series: Series, detail: bool = True) -> None:
        self.series = series
        self.detail = detail

    def __call__(self, inner: Service) -> Service:
        series = self.series
        if not self.detail:  # nothing renders /metrics: no per-method series either
            ended = series.end

            async def count(request: Request) -> Response:
                series.start()
                request.on_finish(ended)
                return await inner(request)

            return count

        methods = series.methods  # per gRPC method, for /metrics: one dict lookup per call (bounded)

        async def measure(request: Request) -> Response:
            series.start()
            method = methods.get(request.call.method) or series.method(request.call.method)
            method.started += 1
            started = _clock()

            def finished(status: Status) -> None:
                elapsed = _clock() - started
                series.finish(status.code, elapsed)
                method.finish(status.code, elapsed)

            request.on_finish(finished)
            count_requests(request, series)
            return count_responses(await inner(request), series)

        return measure


class EndpointMetrics:
    """A Connector wrapper counting each attempt (calls, codes, latency, bytes) on the endpoint it is sent to."""

    name = "endpoint_metrics"

    __slots__ = ("_cluster", "_inner", "_registry")

    def __init__(self, cluster: str, inner: Connector, registry: Registry) -> None:
        self._cluster = cluster
        self._inner = inner
        self._registry = registry

    async def __call__(self, address: str, authority: str, request: Request) -> Upstream:
        series = self._registry.endpoint(self._cluster, address)
        series.start()
        started = _clock()

        def finished(status: Status) -> None:
            series.finish(status.code, _clock() - started)

        request.on_finish(finished)
        count_requests(request, series)
        return CountingUpstream(await self._inner(address, authority, request), (series,))
