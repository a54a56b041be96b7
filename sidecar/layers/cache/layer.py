"""The cache layer: answer declared-cacheable unary calls from the store, fill it from upstream.

Per call (only when a rule covers the method):
1. read the single request message and build the key (method, cluster, vary values, hash);
2. `cache-control: no-cache` / `x-apex-cache: bypass`: skip the lookup, fetch, store, answer;
3. fresh entry: answer it (never touching upstream); within stale-while-revalidate: answer it
   and start one background refresh;
4. miss: join the key's flight or lead a new one (one upstream call per key at a time), wait
   with the caller's own deadline; store OK answers unless `cache-control` forbids it;
5. the upstream failed (or a breaker refused): answer a stale entry within stale-if-error.
In shadow mode (enforced: false) steps 3-5 only count; the answer always comes from upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from sidecar.core import errors
from sidecar.core.call import CallDescriptor, Code, Metadata, Status
from sidecar.core.service import BufferedResponse, Request, Response, Service
from sidecar.layers.cache import control, singleflight
from sidecar.layers.cache import key as keys
from sidecar.layers.cache.state import CacheState, Fetched, MethodCounters
from sidecar.layers.cache.store import Entry, Freshness, make_entry
from sidecar.policy.cache_model import CacheMatch, CacheRule, rule_for
from sidecar.policy.model import PathKind, RouteMatch

log = logging.getLogger(__name__)

# Upstream outcomes that stale-if-error covers (a breaker's local refusal is UNAVAILABLE).
FAILURES = frozenset(
    {Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.INTERNAL, Code.UNKNOWN, Code.ABORTED}
)
MEMO_LIMIT = 1024  # methods whose rule lookup is memoized per layer


def _failed(code: Code, details: str) -> Fetched:
    return Fetched((), [], Status(code, details))


def _served(entry: Entry, now: float, tag: str) -> BufferedResponse:
    """An answer from the cache: the stored headers and message, trailers marked hit/stale and aged.

    The marks go in the trailers, not the headers: adding headers to a trailers-free-of-headers
    answer would cost grpc an extra send operation (about a quarter millisecond per hit).
    """
    trailers = (*entry.trailers, (control.STATUS_KEY, tag), ("age", str(int(now - entry.stored))))
    return BufferedResponse(Status(Code.OK, "", trailers), (entry.message,), entry.headers)


async def _close(messages: AsyncIterator[bytes]) -> None:
    """Close a request stream we will not read further (an answer from the cache, a waiter).

    Left open, the async generator would be finalized by the event loop later: a task and a
    cross-thread wake-up per call.
    """
    aclose = getattr(messages, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the caller's stream failing to close must not fail the answer
            log.debug("closing a request stream failed", exc_info=True)


async def _replay(first: bytes, rest: AsyncIterator[bytes] | None, seen: list[int]) -> AsyncIterator[bytes]:
    """The request stream again: the buffered first message, then whatever follows (counted)."""
    yield first
    if rest is not None:
        async for message in rest:
            seen[0] += 1
            yield message


class CacheService:
    """Wraps one route's service; `rules` are the cache rules that may match this route."""

    __slots__ = ("_clock", "_cluster", "_inner", "_memo", "_rules", "_state")

    def __init__(
        self,
        inner: Service,
        state: CacheState,
        rules: tuple[CacheRule, ...],
        cluster: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._state = state
        self._rules = rules
        self._cluster = cluster
        self._clock = clock
        self._memo: dict[str, CacheRule | None] = {}

    async def __call__(self, request: Request) -> Response:
        method = request.call.method
        try:
            rule = self._memo[method]
        except KeyError:
            rule = rule_for(self._rules, method)
            if len(self._memo) < MEMO_LIMIT:
                self._memo[method] = rule
        if rule is None:
            return await self._inner(request)
        first = await anext(request.messages, None)
        if first is None:  # no request message: nothing to key on
            return await self._inner(request)
        return await self._cached(request, rule, first)

    async def _cached(self, request: Request, rule: CacheRule, first: bytes) -> Response:
        call = request.call
        state = self._state
        counters = state.counters_for(call.method, self._cluster)
        who = "" if rule.shareable else keys.identity(call.principal, call.request_principal)
        key = keys.make(call.method, self._cluster, call.metadata, rule.vary, first, who)
        if control.request_bypass(call.metadata):
            counters.bypasses += 1
            return (await self._fetch(call, first, request.messages, key, rule, request.attempt)).response()
        now = self._clock()
        found = state.store.get(key, now)
        if found is not None:
            entry, freshness = found
            if freshness is Freshness.FRESH:
                counters.hits += 1
                if rule.enforced:
                    await _close(request.messages)
                    return _served(entry, now, "hit")
            elif freshness is Freshness.REVALIDATE:
                counters.stale_while_revalidate += 1
                if rule.enforced:
                    if state.flights.get(key) is None:
                        counters.revalidations += 1
                        state.flights.lead(
                            key, lambda: self._fetch(call, first, None, key, rule, request.attempt), detached=True
                        )
                    await _close(request.messages)
                    return _served(entry, now, "stale")
            else:
                counters.misses += 1
        else:
            counters.misses += 1
        if not rule.enforced:  # shadow: always upstream, stored so the hit ratio is real
            fetched = await self._fetch(call, first, request.messages, key, rule, request.attempt)
            if fetched.status.code in FAILURES and state.store.get(key, self._clock()) is not None:
                counters.stale_if_error += 1  # would have served the stale entry
            return fetched.response()
        fetched = await self._coalesced(request, rule, first, key, counters)
        if fetched.status.code in FAILURES:
            now = self._clock()
            stale = state.store.get(key, now)
            if stale is not None:
                counters.stale_if_error += 1
                return _served(stale[0], now, "stale" if stale[1] is not Freshness.FRESH else "hit")
        return fetched.response()

    async def _coalesced(
        self, request: Request, rule: CacheRule, first: bytes, key: str, counters: MethodCounters
    ) -> Fetched:
        """Join the key's flight, or lead one; wait with this caller's deadline."""
        call = request.call
        flights = self._state.flights
        flight = flights.get(key)
        if flight is None:
            messages = request.messages
            flight = flights.lead(key, lambda: self._fetch(call, first, messages, key, rule, request.attempt))
        else:
            counters.coalesced += 1
            await _close(request.messages)
        timeout = None if call.deadline is None else call.deadline - self._clock()
        try:
            return await singleflight.wait(flight, timeout)
        except TimeoutError:
            return _failed(Code.DEADLINE_EXCEEDED, "apex: deadline exceeded waiting for the cached call's upstream")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this caller was cancelled
            return _failed(Code.UNAVAILABLE, "apex: the upstream call this call was waiting for was cancelled")

    async def _fetch(
        self,
        call: CallDescriptor,
        first: bytes,
        rest: AsyncIterator[bytes] | None,
        key: str,
        rule: CacheRule,
        attempt: int,
    ) -> Fetched:
        """Call upstream with the buffered request, buffer the answer, store it if allowed."""
        extra = [0]
        upstream = Request(call, _replay(first, rest, extra), attempt)
        status = Status(Code.CANCELLED, "apex: the cache fill was cancelled")
        response: Response | None = None
        headers: Metadata = ()
        messages: list[bytes] = []
        try:
            response = await self._inner(upstream)
            headers = await response.initial_metadata()
            while (message := await response.read()) is not None:
                messages.append(message)
            status = await response.status()
        except asyncio.CancelledError:
            if response is not None:
                response.cancel()
            raise
        except Exception as exc:
            log.exception("cache fill of %s failed", call.method, extra={"trace_id": errors.trace_id(call)})
            status = errors.hidden(call, Code.INTERNAL, "apex: sidecar error during the cache fill", repr(exc))
        finally:
            upstream.finish(status)
        fetched = Fetched(headers, messages, status)
        self._store(key, call.method, rule, fetched, unary=extra[0] == 0)
        return fetched

    def _store(self, key: str, method: str, rule: CacheRule, fetched: Fetched, *, unary: bool) -> None:
        state = self._state
        counters = state.counters_for(method, self._cluster)
        if not fetched.status.ok or len(fetched.messages) != 1 or not unary or rule not in state.rule_set:
            counters.not_stored += 1
            return
        ttl = control.response_ttl(fetched.headers, rule.ttl)
        if ttl <= 0:
            counters.not_stored += 1
            return
        now = self._clock()
        entry = make_entry(
            key,
            method,
            fetched.headers,
            fetched.messages[0],
            fetched.status.trailing_metadata,
            now,
            ttl,
            rule.stale_while_revalidate,
            rule.stale_if_error,
        )
        if state.store.put(entry, now):
            counters.stores += 1
        else:
            counters.not_stored += 1


def _service_prefix(service: str) -> str:
    return f"/{service}/"


def could_match(rule: CacheRule, match: RouteMatch) -> bool:
    """True when some method routed by `match` may be covered by `rule` (conservative)."""
    kind = match.path_kind
    if kind is PathKind.ANY:
        return True
    if rule.match is CacheMatch.METHOD:
        if kind is PathKind.METHOD:
            return rule.path == match.path
        if kind is PathKind.SERVICE:
            return rule.path.startswith(_service_prefix(match.path))
        return rule.path.startswith(match.path)
    # A rule covering a set of paths by prefix (a service is the prefix "/svc/").
    prefix = _service_prefix(rule.path) if rule.match is CacheMatch.SERVICE else rule.path
    if kind is PathKind.METHOD:
        return rule.matches(match.path)
    route_prefix = _service_prefix(match.path) if kind is PathKind.SERVICE else match.path
    return prefix.startswith(route_prefix) or route_prefix.startswith(prefix)


def rules_for_route(rules: tuple[CacheRule, ...], listener: str, match: RouteMatch) -> tuple[CacheRule, ...]:
    """The rules the cache layer of one route needs; empty means no cache layer."""
    return tuple(r for r in rules if r.applies_to(listener) and could_match(r, match))


class Cache:
    """The cache layer of one route (to cluster `cluster`) applying `rules`."""

    name = "cache"

    def __init__(
        self,
        state: CacheState,
        rules: tuple[CacheRule, ...],
        cluster: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.rules = rules
        self.cluster = cluster
        self.clock = clock

    def __call__(self, inner: Service) -> Service:
        return CacheService(inner, self.state, self.rules, self.cluster, self.clock)
