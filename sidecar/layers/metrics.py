"""Golden metrics: per-route calls, status codes, latency, in-flight and bytes; per-endpoint attempts.

The route layer records into a `Series` of the registry; the endpoint wrapper sits between a
cluster's balancer and the connector so every attempt is counted on the endpoint it went to.
Only integer bumps and one histogram record per call happen here; readers copy later.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from sidecar.core.call import Metadata, Status
from sidecar.core.service import Connector, Layer, Request, Response, Service, Upstream
from sidecar.telemetry.registry import Registry, Series

_clock = time.perf_counter


async def _count_bytes(messages: AsyncIterator[bytes], series: Series) -> AsyncIterator[bytes]:
    async for message in messages:
        series.request_bytes += len(message)
        yield message


class _CountingResponse:
    """A Response that adds the size of each message read to the series."""

    __slots__ = ("_inner", "_series")

    def __init__(self, inner: Response, series: Series) -> None:
        self._inner = inner
        self._series = series

    async def initial_metadata(self) -> Metadata:
        return await self._inner.initial_metadata()

    async def read(self) -> bytes | None:
        message = await self._inner.read()
        if message is not None:
            self._series.response_bytes += len(message)
        return message

    async def status(self) -> Status:
        return await self._inner.status()

    def cancel(self) -> None:
        self._inner.cancel()


def measure(series: Series) -> Layer:
    """A layer recording every call of a route into `series`."""

    def layer(inner: Service) -> Service:
        async def service(request: Request) -> Response:
            series.start()
            started = _clock()

            def finished(status: Status) -> None:
                series.finish(status.code, _clock() - started)

            request.on_finish(finished)
            request.messages = _count_bytes(request.messages, series)
            return _CountingResponse(await inner(request), series)

        return service

    return layer


class EndpointMetrics:
    """A Connector wrapper counting each attempt on the endpoint it is sent to."""

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
        return await self._inner(address, authority, request)
