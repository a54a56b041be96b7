"""`apex tuner` (the tuning engine) and `apex tune strategy|freeze|unfreeze|show` (its strategies and decisions)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from sidecar.cli import engine_cmd
from sidecar.cli.redis_guard import guard
from sidecar.cli.term import echo, safe

REDIS_HELP = "Redis URL (default $APEX_REDIS_URL)"


def register(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "tuner",
        help="run the tuning engine",
        description="Read telemetry windows, learn per service (Q-learning and a bandit, models kept in Redis) "
        "which settings of its strategy's parameters serve it best, and push each change through the control "
        "plane as a canary: compared with the other instances (Welch's t-test on goodput), then promoted or "
        "rolled back. --shadow decides and records, pushing nothing. Strategies: `apex tune strategy`.",
    )
    engine_cmd.add_source_args(
        p, group="tuner", lag=2.0, listener_help="listener(s) whose routes are the service's calls and are tuned"
    )
    p.add_argument("--shadow", action="store_true", help="decide and record decisions, push nothing")
    p.add_argument("--service", action="append", default=None, help="tune only this service (repeatable)")
    p.add_argument(
        "--require-strategy",
        action="store_true",
        help="tune only services with a stored strategy (default: the balanced preset for the others)",
    )
    p.add_argument("--snapshot-every", type=float, default=10.0,
                   help="seconds between model saves (and acks) (default 10)")  # fmt: skip
    p.add_argument(
        "--apply-timeout",
        type=float,
        default=15.0,
        help="a canary no instance runs within this many seconds is rolled back (default 15)",
    )
    p.add_argument(
        "--min-calls",
        type=int,
        default=10,
        help="seconds with fewer calls (canary or control) are not judged or learnt from (default 10)",
    )
    p.add_argument(
        "--max-trial",
        type=float,
        default=120.0,
        help="a canary not judged within this many seconds (too little traffic) is rolled back",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the agents' exploration (default 0)")
    p.add_argument(
        "--pretrain",
        default="",
        metavar="SCENARIO",
        help="a service without a stored model starts from one trained in the simulator on this scenario file",
    )
    p.add_argument("--pretrain-episodes", type=int, default=8, help="simulator episodes to pretrain (default 8)")
    p.set_defaults(run=run)


def register_tune(sub: Any) -> None:
    """`apex tune strategy|freeze|unfreeze|show` (the `tune` group is made in tune_cmd)."""
    s: argparse.ArgumentParser = sub.add_parser(
        "strategy", help="set or show a service's tuning strategy",
        description="A strategy says which parameters the tuner moves for a service, within which bounds, how "
        "much it explores and how fast it may change things. Presets: conservative, balanced, aggressive.",
    )  # fmt: skip
    ss = s.add_subparsers(dest="strategy_command", required=True, metavar="WHAT")
    st = ss.add_parser("set", help="store a strategy", description="Store SERVICE's strategy. Without --preset the "
                       "stored one (or balanced) is the base; --param replaces the tuned parameters.")  # fmt: skip
    st.add_argument("--service", required=True)
    st.add_argument("--preset", choices=("conservative", "balanced", "aggressive"), default=None)
    st.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="NAME=MIN:MAX",
        help="tune NAME within [MIN, MAX] (repeatable; NAME alone: its default bounds; `lb`: the balancer)."
        " Names: concurrency, eject_after, attempts, retry_budget, cache_ttl, canary_weight, lb",
    )
    st.add_argument("--epsilon", type=float, default=None, help="exploration rate, 0..1")
    st.add_argument("--max-step", type=float, default=None, help="largest relative move of one change, (0, 1]")
    st.add_argument("--min-interval", type=float, default=None, help="seconds between two changes of a parameter")
    st.add_argument("--trial-windows", type=int, default=None, help="canary seconds before the verdict (>= 2)")
    st.add_argument("--canary-percent", type=float, default=None, help="share of instances a change goes to first")
    st.add_argument("--slo", default=None, help="latency SLO, e.g. 100ms (a call is good if OK within it)")
    st.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help=REDIS_HELP)
    st.set_defaults(run=run_strategy_set)
    sh = ss.add_parser("show", help="print a service's strategy")
    sh.add_argument("--service", required=True)
    sh.add_argument("--json", action="store_true")
    sh.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help=REDIS_HELP)
    sh.set_defaults(run=run_strategy_show)
    for name, frozen in (("freeze", True), ("unfreeze", False)):
        f = sub.add_parser(name, help=f"{name} a service's tuning" + (" (no new changes)" if frozen else ""))
        f.add_argument("--service", required=True)
        f.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help=REDIS_HELP)
        f.set_defaults(run=run_freeze, frozen=frozen)
    d = sub.add_parser("show", help="recent decisions with their evidence",
                       description="The tuner's recent decisions (newest first): canaries, promotions, rollbacks, "
                       "refusals, with the change, the versions and the evidence (reward and goodput before and "
                       "after, Welch's p-value).")  # fmt: skip
    d.add_argument("--service", default=None, help="only this service (default: every service with decisions)")
    d.add_argument("--last", type=int, default=20, help="decisions per service (default 20)")
    d.add_argument("--json", action="store_true", help="one JSON object: service -> strategy, decisions, engine")
    d.add_argument("--group", default="tuner", help="the engine's consumer group, for its status (default tuner)")
    d.add_argument("--redis", default=os.environ.get("APEX_REDIS_URL"), help=REDIS_HELP)
    d.set_defaults(run=run_show)


# --- apex tuner ------------------------------------------------------------------------------


def config(args: argparse.Namespace) -> Any:
    from engines.tune.runner import RunnerConfig

    source = engine_cmd.source_config(args)
    if args.snapshot_every <= 0 or args.apply_timeout <= 0:
        raise ValueError("--snapshot-every and --apply-timeout must be > 0")
    if args.min_calls < 1 or args.max_trial <= 0:
        raise ValueError("--min-calls must be >= 1 and --max-trial > 0")
    if args.pretrain_episodes < 1:
        raise ValueError("--pretrain-episodes must be >= 1")
    if args.pretrain:
        from engines.tune.scenario import load

        load(args.pretrain)  # a bad file fails now, naming the field (ScenarioError is a ValueError)
    return RunnerConfig(services=frozenset(args.service or ()), require_strategy=args.require_strategy,
                        shadow=args.shadow, snapshot_every=args.snapshot_every, apply_timeout=args.apply_timeout,
                        min_calls=args.min_calls, max_trial=args.max_trial, seed=args.seed,
                        pretrain=args.pretrain, pretrain_episodes=args.pretrain_episodes, **source)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    def make(cfg: Any, token: str | None) -> Any:
        from engines.tune.runner import Runner

        return Runner(args.redis, args.control_plane, cfg, token=token)

    def banner(cfg: Any) -> str:
        mode = "shadow mode: deciding and recording, pushing nothing" if args.shadow else "canarying changes"
        only = f" (services {', '.join(sorted(cfg.services))})" if cfg.services else ""
        return (f"apex tuner: reading telemetry from {args.redis} (listeners {', '.join(sorted(cfg.listeners))})"
                f"{only}, {mode} through the control plane at {args.control_plane}")  # fmt: skip

    return engine_cmd.run("tuner", args, config, make, banner)


# --- strategies --------------------------------------------------------------------------------


def _client(url: str | None, name: str) -> Any:
    import redis

    if not url:
        raise SystemExit(f"apex {name}: --redis (or $APEX_REDIS_URL) is required")
    return redis.Redis.from_url(url, socket_timeout=5)


def _stored(client: Any, service: str) -> Any:
    from apex.mesh.contract import tune as keys

    from engines.tune import strategy as strategies

    raw = client.get(keys.strategy_key(service))
    return None if raw is None else strategies.from_json(raw, f"stored strategy of {service}")


def run_strategy_set(args: argparse.Namespace) -> int:
    from apex.mesh.contract import tune as keys
    from apex.mesh.contract.names import name_problem

    from engines.tune import strategy as strategies
    from engines.tune.scenario import ScenarioError, parse_duration

    name = "tune strategy set"
    if problem := name_problem(args.service):
        echo(f"apex {name}: --service: {problem}", file=sys.stderr)
        return 2
    client = _client(args.redis, name)

    def body() -> int:
        try:
            current = _stored(client, args.service)
            base = strategies.preset(args.preset) if args.preset else (current or strategies.DEFAULT)
            changes: dict[str, Any] = {}
            if args.preset and current is not None:
                changes["frozen"] = current.frozen
            if args.param:
                params = dict(strategies.parse_param(p) for p in args.param)
                changes["params"] = params
            for flag in ("epsilon", "max_step", "min_interval", "trial_windows", "canary_percent"):
                value = getattr(args, flag)
                if value is not None:
                    changes[flag] = value
            if args.slo is not None:
                changes["slo"] = parse_duration(args.slo, "--slo")
            strategy = strategies.with_changes(base, **changes)
        except (strategies.StrategyError, ScenarioError) as exc:
            echo(f"apex {name}: {exc}", file=sys.stderr)
            return 2
        client.set(keys.strategy_key(args.service), strategy.to_json())
        echo(f"strategy of {args.service} stored:\n" + render_strategy(strategy))
        return 0

    return guard(name, args.redis, body)


def render_strategy(s: Any) -> str:
    params = ", ".join(name if name == "lb" else f"{name} {lo:g}..{hi:g}" for name, (lo, hi) in s.params.items())
    return (f"  preset {s.preset}{' (FROZEN: no new changes)' if s.frozen else ''}\n"
            f"  parameters: {params or 'none'}\n"
            f"  exploration {s.epsilon:g}, step <= {s.max_step:g}x, a parameter changes at most every "
            f"{s.min_interval:g}s\n"
            f"  canary: {s.canary_percent:g}% of instances, {s.trial_windows} s, SLO {s.slo * 1000:g} ms")  # fmt: skip


def run_strategy_show(args: argparse.Namespace) -> int:
    from engines.tune import strategy as strategies

    name = "tune strategy show"
    client = _client(args.redis, name)

    def body() -> int:
        try:
            stored = _stored(client, args.service)
        except strategies.StrategyError as exc:
            echo(f"apex {name}: {exc}", file=sys.stderr)
            return 1
        strategy = stored or strategies.DEFAULT
        if args.json:
            print(json.dumps({"service": args.service, "stored": stored is not None,
                              "strategy": json.loads(strategy.to_json())}))  # fmt: skip
            return 0
        origin = "" if stored is not None else " (none stored: the default the tuner uses)"
        echo(f"strategy of {args.service}{origin}:\n" + render_strategy(strategy))
        return 0

    return guard(name, args.redis, body)


def run_freeze(args: argparse.Namespace) -> int:
    from apex.mesh.contract import tune as keys

    from engines.tune import strategy as strategies

    name = "tune freeze" if args.frozen else "tune unfreeze"
    client = _client(args.redis, name)

    def body() -> int:
        try:
            current = _stored(client, args.service) or strategies.DEFAULT
        except strategies.StrategyError as exc:
            echo(f"apex {name}: {exc}", file=sys.stderr)
            return 1
        client.set(keys.strategy_key(args.service), strategies.with_changes(current, frozen=args.frozen).to_json())
        state = "frozen: the tuner makes no new change (a running canary still ends)" if args.frozen else "unfrozen"
        echo(f"{args.service}: {state}")
        return 0

    return guard(name, args.redis, body)


# --- decisions ------------------------------------------------------------------------------------


def load_decisions(client: Any, service: str | None, last: int) -> dict[str, list[dict[str, Any]]]:
    from apex.mesh.contract import tune as keys

    if service:
        names = [service]
    else:
        names = sorted({keys.service_of(k.decode() if isinstance(k, bytes) else k)
                        for k in client.scan_iter(match="apex:tune:decisions:*", count=500)})  # fmt: skip
    return {n: [json.loads(d) for d in client.lrange(keys.decisions_key(n), 0, last - 1)] for n in names}


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def render_decision(d: dict[str, Any], now: float) -> str:
    ch = ", ".join(f"{k} {a}->{b}" for k, (a, b) in d.get("changes", {}).items()) or "-"
    versions = f"v{d['version']}" if d.get("version") else ""
    if d.get("result_version") and d["result_version"] != d.get("version"):
        versions += f" -> v{d['result_version']}" if versions else f"v{d['result_version']}"
    line = f"  {max(0.0, now - d['time']):6.0f}s ago  {d['kind']:<9} {d['action']:<14} {ch}  {versions}"
    ev = [f"reward {_f(d.get('reward_before'))} -> {_f(d.get('reward_after'))}",
          f"goodput {_f(d.get('goodput_before'))} -> {_f(d.get('goodput_after'))}"]  # fmt: skip
    if d.get("p_value") is not None and d["kind"] in ("promote", "rollback"):
        ev.append(f"p={d['p_value']:.3f}")
    if d.get("principal"):
        ev.append(f"by {d['principal']}")
    return f"{line}\n      {'; '.join(ev)}\n      {d.get('evidence', '')}"


def render_engine(e: dict[str, Any], updated: float, now: float) -> str:
    trial = e.get("trial")
    running = f"canary of version {trial['version']} ({trial['action']}) running" if trial else "no canary running"
    skipped = f"; not tuned: {e['skipped']}" if e.get("skipped") else ""
    params = ", ".join(f"{k}={v}" for k, v in (e.get("params") or {}).items())
    return (f"model v{e.get('model_version', 0)}, {running}{skipped} (as of {max(0.0, now - updated):.0f}s ago)"
            f"\n  in force: {params}")  # fmt: skip


def run_show(args: argparse.Namespace) -> int:
    from engines.tune import strategy as strategies

    name = "tune show"
    if args.last < 1:
        echo(f"apex {name}: --last must be >= 1", file=sys.stderr)
        return 2
    client = _client(args.redis, name)

    def body() -> int:
        from apex.mesh.contract import tune as keys

        decisions = load_decisions(client, args.service, args.last)
        raw = client.hget(keys.status_key(args.group), keys.STATUS)
        status = json.loads(raw) if raw else {}
        engine = status.get("services", {})
        for service in engine:
            if args.service in (None, service):
                decisions.setdefault(service, [])
        out: dict[str, Any] = {}
        for service, docs in decisions.items():
            try:
                stored = _stored(client, service)
            except strategies.StrategyError as exc:
                stored, docs = None, docs
                echo(f"apex {name}: {exc}", file=sys.stderr)
            out[service] = {"strategy": json.loads((stored or strategies.DEFAULT).to_json()),
                            "strategy_stored": stored is not None, "decisions": docs,
                            "engine": engine.get(service)}  # fmt: skip
        if args.json:
            print(json.dumps(out))
            return 0
        if not out:
            echo("no decisions yet (is `apex tuner` running, and do services send telemetry?)")
            return 0
        now = time.time()
        for service, doc in out.items():
            s = doc["strategy"]
            frozen = " FROZEN" if s["frozen"] else ""
            echo(f"service {safe(service)}: strategy {s['preset']}{frozen}, "
                 f"{len(doc['decisions'])} recent decision(s)")  # fmt: skip
            if doc["engine"]:
                echo("  engine: " + render_engine(doc["engine"], status.get("time", now), now))
            for d in doc["decisions"]:
                echo(render_decision(d, now))
            if not doc["decisions"]:
                echo("  (no decisions yet)")
        return 0

    return guard(name, args.redis, body)
