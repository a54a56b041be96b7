"""The cache never serves one principal's answer to another, unless the rule declares answers shareable."""

from __future__ import annotations

import asyncio

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response
from sidecar.layers.cache import key as keys
from sidecar.layers.cache.layer import Cache
from sidecar.layers.cache.state import CacheState
from sidecar.policy.cache_model import CacheMatch, CacheRule
from tests.unit.layers.cache.test_layer import messages

METHOD = "/demo.Catalog/Get"
ALICE = "spiffe://cluster.local/ns/shop/sa/alice"
BOB = "spiffe://cluster.local/ns/shop/sa/bob"


def answers(shareable: bool, callers: list[tuple[str, str]]) -> list[bytes]:
    """What each (principal, request principal) gets for the same request; the upstream names who asked."""

    calls = [0]

    async def upstream(request: Request) -> Response:
        async for _ in request.messages:
            pass
        calls[0] += 1
        who = f"{request.call.principal}|{request.call.request_principal}#{calls[0]}".encode()
        return BufferedResponse(Status(Code.OK), [who])

    state = CacheState()
    state.update_rules((CacheRule("get", CacheMatch.METHOD, METHOD, ttl=60.0, shareable=shareable),))
    service = Cache(state, state.rules, "backend", lambda: 1000.0)(upstream)

    async def run() -> list[bytes]:
        out = []
        for principal, request_principal in callers:
            call = CallDescriptor(METHOD, principal=principal, request_principal=request_principal)
            response = await service(Request(call, messages(b"same request")))
            out.append(await response.read() or b"")
        return out

    return asyncio.run(run())


def test_each_principal_gets_its_own_entry() -> None:
    got = answers(
        False, [(ALICE, ""), (BOB, ""), (ALICE, ""), ("", "https://i/carol"), ("", "https://i/dave"), ("", "")]
    )
    assert got == [
        f"{ALICE}|#1".encode(), f"{BOB}|#2".encode(), f"{ALICE}|#1".encode(),  # alice again: her own entry
        b"|https://i/carol#3", b"|https://i/dave#4", b"|#5",
    ]  # fmt: skip


def test_a_shareable_rule_serves_one_entry_to_every_caller() -> None:
    assert answers(True, [(ALICE, ""), (BOB, "x")]) == [f"{ALICE}|#1".encode()] * 2


def test_the_identity_key_part_is_hashed_and_absent_for_anonymous_callers() -> None:
    who = keys.identity(ALICE, "")
    assert who.startswith("who=h:") and "alice" not in who
    assert keys.identity("", "") == ""
    assert keys.identity(ALICE, "") != keys.identity("", ALICE)
    assert keys.make(METHOD, "c", (("x-t", "a"),), ("x-t",), b"", who).startswith(f"{METHOD}|c|x-t=a&who=h:")
    assert keys.make(METHOD, "c", (), (), b"") == keys.make(METHOD, "c", (), (), b"", keys.identity("", ""))
