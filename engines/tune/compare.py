"""Run one scenario for every policy (default, oracle, adaptive baselines, tuned) and format the table."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict

from engines.tune.baselines import EnvoyGradient, Gradient2, Static, peak_ewma
from engines.tune.run import Result, oracle, run
from engines.tune.scenario import Scenario
from engines.tune.tuner import train

ORDER = ("default", "oracle", "envoy-gradient", "gradient2", "peak-ewma", "tuned")


def compare(scenario: Scenario, episodes: int = 16, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> list[Result]:  # fmt: skip
    """Results in ORDER. The tuned agent first trains for `episodes` episodes of the same scenario on
    other seeds (scenario.seed + 1000k), then runs the scenario's own seed, still learning (epsilon 0.05).
    The oracle has hindsight: it is searched on the very seed it is scored on."""
    say = progress or (lambda _: None)
    out = [run(scenario, Static())]
    say("default done")
    _, best = oracle(scenario, progress=progress)
    out.append(best)
    out += [run(scenario, EnvoyGradient(seed=seed)), run(scenario, Gradient2()), run(scenario, peak_ewma())]
    say("baselines done")
    tuner = train(scenario, episodes, seed=seed)
    out.append(run(scenario, tuner))
    say("tuned done")
    return out


def _params(r: Result) -> str:
    p = r.final
    parts = [f"cap={p.concurrency}", f"tries={p.attempts}", f"budget={p.retry_budget:.2f}",
             f"eject={p.eject_after}", f"lb={p.lb}"]  # fmt: skip
    if p.cache_ttl != 30.0:
        parts.append(f"ttl={p.cache_ttl:g}")
    if p.canary_weight >= 0:
        parts.append(f"canary={p.canary_weight:.2f}")
    return " ".join(parts)


HEADER = ("policy", "goodput/s", "good%", "p50 ms", "p99 ms", "err%", "stale%", "adapt s", "reward", "final parameters")


def table(scenario: Scenario, results: Sequence[Result]) -> str:
    rows = [HEADER] + [
        (
            r.name,
            f"{r.goodput:.1f}",
            f"{100 * r.good_ratio:.1f}",
            f"{1e3 * r.p50:.1f}",
            f"{1e3 * r.p99:.1f}",
            f"{100 * r.error_rate:.2f}",
            f"{100 * r.staleness:.2f}",
            f"{r.time_to_adapt:.1f}",
            f"{r.reward:.3f}",
            _params(r),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [f"scenario {scenario.name} ({scenario.duration:g} s, seed {scenario.seed})"]
    for row in rows:
        cells = (c.ljust(w) if i in (0, 9) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append("  ".join(cells).rstrip())
    by = {r.name: r for r in results}
    if "tuned" in by and "default" in by:
        d, t = by["default"], by["tuned"]
        lines.append(f"goodput_gain={t.goodput / max(d.goodput, 1e-9):.3f} p99_gain={d.p99 / max(t.p99, 1e-9):.3f}")
    return "\n".join(lines)


def as_json(scenario: Scenario, results: Sequence[Result]) -> str:
    rows = []
    for r in results:
        d = asdict(r)
        d.pop("good_series")
        d["final"] = asdict(r.final)
        rows.append(d)
    return json.dumps({"scenario": scenario.name, "seed": scenario.seed, "results": rows}, indent=2)
