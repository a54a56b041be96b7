"""Authorization decisions (pure) and the authz layer's statuses and counters."""

from __future__ import annotations

import asyncio
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from sidecar.core.call import CallDescriptor, Code, Status
from sidecar.core.service import BufferedResponse, Request, Response, no_messages
from sidecar.layers.authz.decide import Outcome, _any, decide, evaluate, rule_matches
from sidecar.layers.authz.layer import Authz, policies_for
from sidecar.policy.auth_model import Action, AuthzPolicy, AuthzRule, Condition
from sidecar.telemetry.registry import Series

SHOP = "spiffe://cluster.local/ns/shop/sa/frontend"
EVIL = "spiffe://cluster.local/ns/shop/sa/evil"
OTHER_NS = "spiffe://cluster.local/ns/batch/sa/report"


def call(principal: str = SHOP, method: str = "/shop.Orders/Get", **kw: object) -> CallDescriptor:
    return CallDescriptor(method, principal=principal, **kw)  # type: ignore[arg-type]


def claim(name: str, *values: str, negate: bool = False) -> Condition:
    key = f"request.auth.claims[{name}]"
    return Condition(key, "claim", (name,), () if negate else values, values if negate else ())


def test_rule_parts_and_globs() -> None:
    assert rule_matches(AuthzRule(principals=("spiffe://cluster.local/ns/shop/*",)), call())
    assert not rule_matches(AuthzRule(principals=("*",)), call(principal=""))  # "*" needs an authenticated peer
    assert rule_matches(AuthzRule(not_principals=("*",)), call(principal=""))
    assert not rule_matches(AuthzRule(not_principals=(EVIL,)), call(EVIL))
    assert rule_matches(AuthzRule(namespaces=("shop",)), call()) and not rule_matches(
        AuthzRule(namespaces=("shop",)), call(OTHER_NS)
    )
    assert rule_matches(AuthzRule(services=("shop.*",), methods=("/shop.Orders/Get*",)), call())
    assert not rule_matches(AuthzRule(methods=("/shop.Orders/Delete",)), call())
    assert rule_matches(AuthzRule(request_principals=("https://issuer.test/*",)),
                        call(request_principal="https://issuer.test/alice"))  # fmt: skip
    assert not rule_matches(AuthzRule(request_principals=("*",)), call())
    assert rule_matches(AuthzRule(), call(principal=""))  # an empty rule matches everything


def test_conditions_on_claims_and_headers() -> None:
    c = call(claims={"scope": ["orders:read", "orders:list"], "org": {"tier": "gold"}, "admin": False},
             metadata=(("x-tenant", "acme"),))  # fmt: skip
    assert rule_matches(AuthzRule(when=(claim("scope", "orders:read"),)), c)
    assert not rule_matches(AuthzRule(when=(claim("scope", "orders:write"),)), c)
    assert rule_matches(AuthzRule(when=(Condition("k", "claim", ("org", "tier"), ("gold",)),)), c)
    assert rule_matches(AuthzRule(when=(claim("admin", "false"),)), c)
    assert rule_matches(AuthzRule(when=(claim("scope", "*:write", negate=True),)), c)
    assert not rule_matches(AuthzRule(when=(claim("scope", "*:read", negate=True),)), c)
    assert rule_matches(AuthzRule(when=(Condition("k", "header", ("x-tenant",), ("ac*",)),)), c)
    assert not rule_matches(AuthzRule(when=(claim("missing", "x"),)), c)
    assert not rule_matches(AuthzRule(when=(claim("scope", "orders:read"),)), call())  # no token, no claims


def test_deny_wins_over_allow_then_allow_then_default_deny() -> None:
    allow = AuthzPolicy("shop-reads", Action.ALLOW, rules=(AuthzRule(namespaces=("shop",)),))
    deny = AuthzPolicy("no-evil", Action.DENY, rules=(AuthzRule(principals=(EVIL,)),))
    both = (allow, deny)
    assert evaluate(both, call()).outcome is Outcome.ALLOWED
    denied = evaluate(both, call(EVIL))
    assert denied.outcome is Outcome.DENIED and denied.message == "apex: permission denied by policy 'no-evil'"
    default = evaluate(both, call(OTHER_NS))
    assert default.outcome is Outcome.DENIED_DEFAULT
    assert default.message == "apex: permission denied: no rule of 'shop-reads' allows /shop.Orders/Get"
    assert evaluate((deny,), call(OTHER_NS)).outcome is Outcome.ALLOWED  # only DENY policies: the rest is allowed
    nothing = AuthzPolicy("allow-nothing")
    assert evaluate((nothing,), call()).outcome is Outcome.DENIED_DEFAULT


def test_dry_run_policies_give_a_second_answer_only() -> None:
    dry = AuthzPolicy("lockdown", Action.DENY, rules=(AuthzRule(methods=("/shop.Orders/*",)),), dry_run=True)
    enforced, shadow = decide((dry,), call())
    assert enforced.outcome is Outcome.ALLOWED and shadow is not None and shadow.outcome is Outcome.DENIED
    assert decide((AuthzPolicy("x", rules=(AuthzRule(),)),), call())[1] is None


def _through(policies: tuple[AuthzPolicy, ...], calls: list[CallDescriptor]) -> tuple[list[Status], Series]:
    async def upstream(request: Request) -> Response:
        return BufferedResponse(Status(Code.OK))

    series = Series()
    service = Authz(policies, series)(upstream)

    async def run() -> list[Status]:
        return [await (await service(Request(c, no_messages()))).status() for c in calls]

    return asyncio.run(run()), series


def test_the_layer_answers_permission_denied_and_counts_each_decision() -> None:
    allow = AuthzPolicy("shop", rules=(AuthzRule(namespaces=("shop",)),))
    deny = AuthzPolicy("no-evil", Action.DENY, rules=(AuthzRule(principals=(EVIL,)),))
    dry = AuthzPolicy("no-get", Action.DENY, rules=(AuthzRule(methods=("*/Get",)),), dry_run=True)
    statuses, series = _through((allow, deny, dry), [call(), call(EVIL), call(OTHER_NS), call(method="/shop.O/Put")])
    assert [s.code for s in statuses] == [Code.OK, Code.PERMISSION_DENIED, Code.PERMISSION_DENIED, Code.OK]
    assert series.counters == {
        "authz_allowed": 2,
        "authz_denied": 1,
        "authz_denied_default": 1,
        "authz_shadow_would_deny": 1,  # the first call: allowed, but the dry-run policy would deny it
    }


def test_policies_select_inbound_listeners_unless_named() -> None:
    anywhere = AuthzPolicy("a")
    named = AuthzPolicy("b", listeners=("outbound",), routes=("echo",))
    assert policies_for((anywhere, named), "inbound", True, "r") == (anywhere,)
    assert policies_for((anywhere, named), "outbound", False, "echo") == (named,)
    assert policies_for((anywhere, named), "outbound", False, "other") == ()


@given(
    st.text(alphabet="ab/*?[]!.", max_size=8),
    st.lists(st.text(alphabet="ab/*?[]!.", max_size=6), max_size=3),
)
def test_glob_lists_match_exactly_like_fnmatchcase(value: str, globs: list[str]) -> None:
    assert _any(value, tuple(globs)) == any(fnmatchcase(value, g) for g in globs)
