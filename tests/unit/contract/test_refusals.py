"""apex.mesh.contract.refusals against the code: every counter name a layer can put in a window is classified.

The names are derived from the layers' source, not listed by hand: route decisions are the fields of
`RouteDecisions`, cache counters the slots of `MethodCounters` (both read at run time), and every other
counter is a key at a `<x>.counters[<key>] += n` or `<x>.count(<key>)` site under sidecar/layers,
read with `ast` and resolved (string constants, f-strings, `a if c else b`, `+`, module constants, local
assignments, and a parameter's constant arguments at its call sites). A part that cannot be resolved
becomes a wildcard, allowed only after a prefix the contract knows as a family (`caps_rejected_<cap>`);
anything else fails here, naming the file and line.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from apex.mesh.contract import refusals
from apex.mesh.contract.refusals import Refusal

from sidecar.layers.authz.decide import Outcome
from sidecar.layers.cache.state import MethodCounters
from sidecar.telemetry.registry import RouteDecisions

ROOT = Path(__file__).resolve().parents[3]
LAYERS = ROOT / "sidecar" / "layers"
WILD = "\0"  # an unresolved part of a name

# The prefix each module's counters get on their way into windows (ClusterRuntime.counter_totals:
# `<mechanism>_<counter>`); None: counters that never reach a window (the security view on /metrics).
PREFIX: dict[str, str | None] = {
    "limits/caps.py": "caps_",
    "limits/gradient.py": "adaptive_",
    "outlier/detector.py": "outlier_",
    "outlier/health.py": "health_",
    "cluster/state.py": "balancer_",
    "cluster/service.py": "balancer_",
    "authn/layer.py": "",  # Series.count on the route: already named authn_*
    "authz/layer.py": "",
    "authn/keys.py": None,  # JWKS cache: apex_jwks_* on /metrics
    "oauth2/source.py": None,  # token sources: apex_oauth2_* on /metrics
}
# Values of parts `ast` cannot resolve and no family covers (expression source -> values from the code).
DOMAINS: dict[str, list[str]] = {"decision.outcome.value": [o.value for o in Outcome]}


class Module:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.rel = path.relative_to(LAYERS).as_posix()
        self.tree = ast.parse(path.read_text())
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self.constants = {
            t.id: node.value
            for node in self.tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None


MODULES = [Module(p) for p in sorted(LAYERS.rglob("*.py"))]


def _call_args(function: str, index: int) -> list[ast.expr]:
    """The index-th argument (self excluded) of every call of `function` under sidecar/layers."""
    out = []
    for m in MODULES:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if name == function and len(node.args) > index:
                    out.append(node.args[index])
    return out


def resolve(m: Module, node: ast.expr, at: ast.AST) -> set[str]:
    """Every string `node` can be (WILD for parts that cannot be resolved)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return resolve(m, node.body, at) | resolve(m, node.orelse, at)
    concat = isinstance(node, ast.JoinedStr) or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add))
    if concat and isinstance(node, ast.JoinedStr | ast.BinOp):
        parts: list[ast.expr] = list(node.values) if isinstance(node, ast.JoinedStr) else [node.left, node.right]
        options = [resolve(m, p.value if isinstance(p, ast.FormattedValue) else p, at) for p in parts]
        return {"".join(combo) for combo in itertools.product(*options)}
    if ast.unparse(node) in DOMAINS:
        return set(DOMAINS[ast.unparse(node)])
    if isinstance(node, ast.Name):
        fn = m.function_of(at)
        if fn is not None:
            assigned = [
                a.value
                for a in ast.walk(fn)
                if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
            ]
            if assigned:
                return set().union(*(resolve(m, v, v) for v in assigned))
            params = [a.arg for a in fn.args.args]
            if node.id in params:  # a parameter: the constants its callers pass
                index = params.index(node.id) - (params[:1] == ["self"])
                found: set[str] = set()
                for arg in _call_args(fn.name, index):
                    found |= resolve(m, arg, arg) if isinstance(arg, ast.Constant) else {WILD}
                return found or {WILD}
        if node.id in m.constants:
            return resolve(m, m.constants[node.id], m.constants[node.id])
    return {WILD}


def counter_sites() -> Iterator[tuple[Module, int, ast.expr]]:
    """(module, line, key expression) of every counter bump under sidecar/layers."""
    for m in MODULES:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
                holder = node.target.value
                name = holder.attr if isinstance(holder, ast.Attribute) else getattr(holder, "id", "")
                if name in ("counters", "counts"):
                    yield m, node.lineno, node.target.slice
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "count":
                assert node.args, f"sidecar/layers/{m.rel}:{node.lineno}: count() without a name"
                yield m, node.lineno, node.args[0]  # Series.count / Registry.count (layers count nothing else)


def emitted() -> dict[str, str]:
    """Window counter name (WILD for an unresolved part) -> where it comes from."""
    out = {name: "RouteDecisions" for name in RouteDecisions.__slots__ if name not in ("listener", "route", "split")}
    out["split:" + WILD] = "RouteDecisions.split"
    out.update({f"cache_{slot}": "MethodCounters" for slot in MethodCounters.__slots__})
    for m, line, key in counter_sites():
        assert m.rel in PREFIX, f"sidecar/layers/{m.rel}:{line} counts something: add the module to PREFIX"
        prefix = PREFIX[m.rel]
        if prefix is not None:
            for name in resolve(m, key, key):
                out[prefix + name] = f"sidecar/layers/{m.rel}:{line}"
    return out


def test_every_counter_a_layer_can_emit_is_classified() -> None:
    names = emitted()
    # the derivation found what the docs name (a check of the derivation itself)
    for expected in ("caps_rejected_" + WILD, "caps_pending_timeouts", "caps_pending_cancelled",
                     "adaptive_rejected", "balancer_no_endpoint", "outlier_shadow_would_ejections_consecutive_failures",
                     "health_checks_failed", "authn_rejected_" + WILD, "authz_denied_default",
                     "authz_shadow_would_deny", "rate_limited", "budget_exhausted", "cache_hits"):  # fmt: skip
        assert expected in names, expected
    for name, where in sorted(names.items()):
        if WILD not in name:
            assert refusals.known(name), f"{name!r} ({where}) is not in apex.mesh.contract.refusals"
            continue
        head = name.split(WILD, 1)[0]
        families = [prefix for prefix, _ in refusals.FAMILIES if head.startswith(prefix)]
        assert families, (
            f"{name.replace(WILD, '<?>')!r} ({where}): a part of the name cannot be resolved and no family of "
            "apex.mesh.contract.refusals covers it (add its values to DOMAINS here, or a family there)"
        )


def test_the_table_names_nothing_the_layers_cannot_emit() -> None:
    """No dead entries (samples.py once matched `ratelimit_rejected*`, which nothing emits)."""
    names = emitted()
    concrete = {n for n in names if WILD not in n}
    heads = {n.split(WILD, 1)[0] for n in names if WILD in n}
    for name in [*refusals.REFUSALS, *refusals.NOT_REFUSALS]:
        assert name in concrete, f"{name!r} is classified but no layer emits it"
    for prefix, _ in refusals.FAMILIES:
        assert any(h.startswith(prefix) for h in heads) or any(n.startswith(prefix) for n in concrete), prefix


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("caps_rejected_max_pending", Refusal.LOAD_SHED),
        ("caps_pending_timeouts", Refusal.LOAD_SHED),
        ("adaptive_rejected", Refusal.LOAD_SHED),
        ("rate_limited", Refusal.LOAD_SHED),
        ("budget_exhausted", Refusal.RETRY_BUDGET),
        ("balancer_no_endpoint", Refusal.NO_ENDPOINT),
        ("authn_rejected_expired", Refusal.AUTHN),
        ("authz_denied", Refusal.AUTHZ),
        ("authz_denied_default", Refusal.AUTHZ),
        ("caps_shadow_would_reject_max_requests", None),
        ("adaptive_shadow_would_reject", None),
        ("rate_limited_shadow", None),
        ("budget_would_exhaust", None),
        ("authz_shadow_would_deny", None),
        ("caps_pending_cancelled", None),
        ("fault_aborts", None),
        ("split:backend", None),
    ],
)
def test_kinds(name: str, kind: Refusal | None) -> None:
    assert refusals.known(name) and refusals.kind(name) is kind


def test_unknown_names_are_neither_known_nor_refusals() -> None:
    for name in ("ratelimit_rejected", "rejected", "caps_rejected_", "split:", "authz_denied_x"):
        assert not refusals.known(name) and refusals.kind(name) is None
    counters = {"rate_limited": 2, "authz_denied": 3, "ratelimit_rejected": 100, "retries": 7}
    assert refusals.refused(counters, refusals.ALL) == 5
    assert refusals.refused(counters, {Refusal.AUTHZ}) == 3
    assert refusals.by_kind(counters) == {Refusal.LOAD_SHED: 2, Refusal.AUTHZ: 3}
