"""`make bench-scenarios`: every scenario file with real processes, a table, PNG plots and the simulator's calibration.

    python -m benchmarks.scenario_run.suite [FILE ...] [--time-scale X] [--rate-scale Y] [--baselines]
        [--episodes N] [--seed N] [--out DIR]

For each scenario (default: benchmarks/scenarios/*.yaml) the real-process runner runs default and
tuned (and the baselines); then the simulator runs every static configuration that ran for real on
the same scaled scenario and seed, which is the calibration: goodput, p50 and p99, sim vs real.
Writes DIR/summary.md (tables), DIR/results.json, DIR/<scenario>.png (good ratio and p99 per second,
per policy) and DIR/gains.png (tuned / default per scenario).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.procstat import machine
from benchmarks.scenario_run.runner import Options, Runner, RunRecord
from engines.tune import compare
from engines.tune.baselines import Static
from engines.tune.run import Result
from engines.tune.run import run as simulate
from engines.tune.scenario import Scenario

STATIC = ("default", "oracle", "peak-ewma")  # real runs whose configuration the simulator can replay
DEFAULT_OUT = Path("benchmarks/scenario-results")


def calibrate(sc: Scenario, records: list[RunRecord]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        real = rec.result
        if real.name not in STATIC:
            continue
        sim = simulate(sc, Static(real.final, name=real.name))
        rows.append({
            "scenario": sc.name, "policy": real.name,
            "goodput_real": real.goodput, "goodput_sim": sim.goodput,
            "p50_real": real.p50, "p50_sim": sim.p50, "p99_real": real.p99, "p99_sim": sim.p99,
            "error_rate_real": real.error_rate, "error_rate_sim": sim.error_rate,
        })  # fmt: skip
    return rows


def _result_json(r: Result) -> dict[str, Any]:
    d = asdict(r)
    d["final"] = asdict(r.final)
    return d


def plot_scenario(path: Path, sc: Scenario, records: list[RunRecord]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    for rec in records:
        ws = rec.windows[: len(rec.result.good_series)]
        t = [w.second for w in ws]
        ax1.plot(t, rec.result.good_series, label=rec.result.name, linewidth=1.2)
        p99 = [1e3 * w.histogram.percentile(99.0) if w.histogram.count else float("nan") for w in ws]
        ax2.plot(t, p99, label=rec.result.name, linewidth=1.2)
    for d in sc.disturbances():
        for ax in (ax1, ax2):
            ax.axvline(d, color="grey", linestyle=":", linewidth=0.8)
    ax2.axhline(1e3 * sc.slo.latency, color="red", linestyle="--", linewidth=0.8, label="SLO")
    ax1.set_ylabel("good / offered")
    ax1.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("p99 (ms)")
    ax2.set_yscale("log")
    ax2.set_xlabel("scenario time (s)")
    ax1.set_title(f"{sc.name}: real processes, per 1 s window")
    ax1.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_gains(path: Path, gains: list[tuple[str, float, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [g[0] for g in gains]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar([i - 0.2 for i in x], [g[1] for g in gains], width=0.4, label="goodput gain")
    ax.bar([i + 0.2 for i in x], [g[2] for g in gains], width=0.4, label="p99 gain")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(x), names, rotation=20, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("tuned vs default (> 1 is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "-"


def markdown(command: str, started: str, info: dict[str, Any], tables: list[str],
             gains: list[tuple[str, float, float]], calibration: list[dict[str, Any]]) -> str:  # fmt: skip
    lines = [f"Command: `{command}`", f"Started {started}; machine: {info['cores']} cores, {info['cpu_model']}, "
             f"load average at start {info['load_average_at_start']}.", "",
             "| scenario | goodput_gain | p99_gain |", "|---|---:|---:|"]  # fmt: skip
    lines += [f"| {n} | {g:.3f} | {p:.3f} |" for n, g, p in gains]
    lines += ["", "Calibration (simulator on the same scaled scenario, seed and configuration):", "",
              "| scenario | policy | goodput real | sim | sim/real | p50 ms real | sim | p99 ms real | sim "
              "| err% real | sim |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for c in calibration:
        lines.append(
            f"| {c['scenario']} | {c['policy']} | {c['goodput_real']:.1f} | {c['goodput_sim']:.1f} | "
            f"{_ratio(c['goodput_sim'], c['goodput_real'])} | {1e3 * c['p50_real']:.1f} | {1e3 * c['p50_sim']:.1f} | "
            f"{1e3 * c['p99_real']:.1f} | {1e3 * c['p99_sim']:.1f} | {100 * c['error_rate_real']:.1f} | "
            f"{100 * c['error_rate_sim']:.1f} |"
        )
    lines += ["", "```", *tables, "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scenario_run.suite", description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", help="scenario files (default: benchmarks/scenarios/*.yaml)")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--rate-scale", type=float, default=1.0)
    p.add_argument("--baselines", action="store_true")
    p.add_argument("--episodes", type=int, default=16)
    p.add_argument("--sidecars", type=int, default=2)
    p.add_argument("--tuner", choices=("auto", "engine", "inprocess"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    files = args.files or sorted(str(f) for f in Path("benchmarks/scenarios").glob("*.yaml"))
    if not files:
        print("no scenario files", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m benchmarks.scenario_run.suite", *(argv if argv is not None else sys.argv[1:])])
    started = time.strftime("%Y-%m-%d %H:%MZ", time.gmtime())
    info = machine()
    opts = Options(time_scale=args.time_scale, rate_scale=args.rate_scale, seed=args.seed, episodes=args.episodes,
                   baselines=args.baselines, sidecars=args.sidecars, tuner=args.tuner)  # fmt: skip
    tables: list[str] = []
    gains: list[tuple[str, float, float]] = []
    calibration: list[dict[str, Any]] = []
    doc: dict[str, Any] = {"command": command, "started": started, "machine": info, "scenarios": []}
    for f in files:
        with Runner(f, opts, progress=lambda m: print(m, file=sys.stderr, flush=True)) as runner:
            records = runner.compare()
            sc = runner.sc
            tuned = runner.describe_tuned()
        results = [r.result for r in records]
        table = f"{tuned}\n" + compare.table(sc, results)
        print(table, flush=True)
        tables.append(table)
        d, t = results[0], results[-1]
        gains.append((sc.name, t.goodput / max(d.goodput, 1e-9), d.p99 / max(t.p99, 1e-9)))
        cal = calibrate(sc, records)
        calibration += cal
        lags = {r.result.name: max((w.send_lag for w in r.windows), default=0.0) for r in records}
        table += "\nload generator's worst send lag (s): " + ", ".join(f"{n} {v:.3f}" for n, v in lags.items())
        tables[-1] = table
        plot_scenario(args.out / f"{sc.name}.png", sc, records)
        doc["scenarios"].append({"scenario": sc.name, "file": f, "duration": sc.duration,
                                 "results": [_result_json(r) for r in results], "calibration": cal,
                                 "tuned_by": tuned, "decisions": records[-1].decisions})  # fmt: skip
    plot_gains(args.out / "gains.png", gains)
    (args.out / "results.json").write_text(json.dumps(doc, indent=2))
    (args.out / "summary.md").write_text(markdown(command, started, info, tables, gains, calibration))
    print(f"wrote {args.out}/summary.md, results.json and PNG plots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
