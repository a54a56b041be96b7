"""Authorization as a pure decision over the call descriptor (Istio AuthorizationPolicy semantics).

`evaluate(policies, call)`:
1. a rule of a DENY policy matches: denied (the first such policy is the reason);
2. no ALLOW policy applies: allowed;
3. a rule of an ALLOW policy matches: allowed;
4. otherwise denied by default (an ALLOW policy without rules therefore denies everything it selects).
`decide` runs it on the enforced policies, and, when some are dry-run, on all of them too: the
second answer is what the call would have got (counted as `authz_shadow_would_*`, never enforced).

A rule matches when each of its parts that is set matches (OR within a list, AND across parts);
globs are fnmatch patterns, case-sensitive (each list compiled once to one regex). Peer principals
need mTLS, request principals a JWT: an unauthenticated caller matches no `principals` /
`request_principals` glob, not even "*".
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from apex.mesh.security.spiffe import SpiffeError, SpiffeId

from sidecar.core.call import CallDescriptor
from sidecar.policy.auth_model import Action, AuthzPolicy, AuthzRule, Condition


class Outcome(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"  # a DENY rule matched
    DENIED_DEFAULT = "denied_default"  # ALLOW policies apply, none matched

    @property
    def allowed(self) -> bool:
        return self is Outcome.ALLOWED


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    policy: str = ""  # the policy that decided ("" when no policy applied)
    message: str = ""  # for the caller when denied


@functools.lru_cache(maxsize=4096)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for a list of globs (fnmatch syntax, case-sensitive), compiled once per list."""
    return re.compile("|".join(fnmatch.translate(glob) for glob in globs))


def _any(value: str, globs: tuple[str, ...]) -> bool:
    """True when some glob matches `value` (none does when there are no globs)."""
    return bool(globs) and _pattern(globs).match(value) is not None


@functools.lru_cache(maxsize=1024)
def namespace_of(principal: str) -> str | None:
    """The namespace of a SPIFFE ID (memoized: a sidecar sees few peers)."""
    try:
        return SpiffeId.parse(principal).namespace
    except SpiffeError:
        return None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def values_of(condition: Condition, call: CallDescriptor) -> list[str]:
    """Every value the condition's key has in this call (header values, or a claim's elements)."""
    if condition.kind == "header":
        name = condition.path[0]
        return [v.decode("latin-1") if isinstance(v, bytes) else v for k, v in call.metadata if k == name]
    node: object = call.claims
    for part in condition.path:
        if not isinstance(node, Mapping) or part not in node:
            return []
        node = node[part]
    if isinstance(node, list):
        return [_text(v) for v in node if not isinstance(v, dict | list)]
    return [] if node is None or isinstance(node, dict) else [_text(node)]


def holds(condition: Condition, call: CallDescriptor) -> bool:
    values = values_of(condition, call)
    if condition.values and not any(_any(v, condition.values) for v in values):
        return False
    return not any(_any(v, condition.not_values) for v in values)


def rule_matches(rule: AuthzRule, call: CallDescriptor) -> bool:
    principal = call.principal
    if rule.principals and not (principal and _any(principal, rule.principals)):
        return False
    if rule.not_principals and principal and _any(principal, rule.not_principals):
        return False
    if rule.namespaces:
        namespace = namespace_of(principal) if principal else None
        if namespace is None or not _any(namespace, rule.namespaces):
            return False
    if rule.request_principals and not (call.request_principal and _any(call.request_principal,
                                                                         rule.request_principals)):  # fmt: skip
        return False
    if rule.services and not _any(call.service, rule.services):
        return False
    if rule.methods and not _any(call.method, rule.methods):
        return False
    return all(holds(c, call) for c in rule.when)


def _matching(policy: AuthzPolicy, call: CallDescriptor) -> bool:
    return any(rule_matches(rule, call) for rule in policy.rules)


def evaluate(policies: Iterable[AuthzPolicy], call: CallDescriptor) -> Decision:
    allows: list[AuthzPolicy] = []
    for policy in policies:
        if policy.action is Action.DENY:
            if _matching(policy, call):
                return Decision(Outcome.DENIED, policy.name, f"apex: permission denied by policy {policy.name!r}")
        else:
            allows.append(policy)
    if not allows:
        return Decision(Outcome.ALLOWED)
    for policy in allows:
        if _matching(policy, call):
            return Decision(Outcome.ALLOWED, policy.name)
    names = ", ".join(repr(p.name) for p in allows)
    return Decision(Outcome.DENIED_DEFAULT, allows[0].name, f"apex: permission denied: no rule of {names} allows "
                    f"{call.method}")  # fmt: skip


def decide(policies: Sequence[AuthzPolicy], call: CallDescriptor) -> tuple[Decision, Decision | None]:
    """(enforced decision, decision with the dry-run policies too — None when there are none)."""
    enforced = [p for p in policies if not p.dry_run]
    decision = evaluate(enforced, call)
    if len(enforced) == len(policies):
        return decision, None
    return decision, evaluate(policies, call)
