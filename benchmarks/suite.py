"""The latency suite: profiles, workloads x targets, per-run figures (latency, throughput, CPU, RSS)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from apex.mesh.v1 import echo_pb2

from benchmarks import procstat, targets
from benchmarks.load import Job, Outcome, Workers, split
from benchmarks.progress import Progress

# Each sidecar path on the h2 transport sits beside its grpc twin (compare() gives the h2/grpc ratios).
STANDARD_TARGETS = ("direct", "sidecar-out", "sidecar-out-h2", "sidecar-in", "mesh", "mesh-h2", "nginx", "haproxy")
STREAM_MESSAGES = 100  # server-streaming: responses per call


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # unary | server_stream | bidi
    method: str
    request: bytes
    unit: str  # what throughput counts
    note: str


def _req(**fields: Any) -> bytes:
    data: bytes = echo_pb2.EchoRequest(**fields).SerializeToString()
    return data


_ECHO = "/apex.mesh.v1.Echo/"
WORKLOADS = {
    w.name: w
    for w in (
        Workload("unary-100B", "unary", _ECHO + "Unary", _req(payload=b"x" * 100), "calls/s", "100 B each way"),
        Workload("unary-1KB", "unary", _ECHO + "Unary", _req(payload=b"x" * 1024), "calls/s", "1 KB each way"),
        Workload("unary-64KB", "unary", _ECHO + "Unary", _req(payload=b"x" * 65536), "calls/s", "64 KB each way"),
        Workload(
            "server-stream",
            "server_stream",
            _ECHO + "ServerStream",
            _req(response_size=100, response_count=STREAM_MESSAGES),
            "msgs/s",
            f"{STREAM_MESSAGES} x 100 B responses per call; latency is per whole call",
        ),
        Workload(
            "bidi",
            "bidi",
            _ECHO + "Bidi",
            _req(payload=b"x" * 100),
            "msgs/s",
            "ping-pong of 100 B on long-lived streams; latency is per round trip",
        ),
        Workload(
            "unary-cache-hit",
            "unary",
            _ECHO + "Unary",
            _req(payload=b"x" * 100),
            "calls/s",
            "the same 100 B request repeatedly: every call after the first is a cache hit",
        ),
    )
}


@dataclass(frozen=True)
class Case:
    workload: str
    mode: str  # open | closed
    rate: int = 0
    concurrency: int = 0
    targets: tuple[str, ...] = STANDARD_TARGETS

    @property
    def label(self) -> str:
        how = f"{self.rate}/s" if self.mode == "open" else f"c={self.concurrency}"
        return f"{self.workload} {how}"


CACHE_TARGETS = ("direct", "sidecar-out", "sidecar-cache")


@dataclass(frozen=True)
class Profile:
    name: str
    duration: float
    warmup: float
    workers: int
    cases: tuple[Case, ...]
    rounds: int = 1  # each case x target runs this many times, interleaved; the least disturbed round is kept
    lead: float = 0.2  # seconds between handing a run to the workers and its start (they start together)


def _profile(
    name: str,
    duration: float,
    warmup: float,
    rates: Sequence[int],
    big_rate: int,
    closed: bool,
    rounds: int = 1,
    lead: float = 0.2,
) -> Profile:
    cases = [Case("unary-100B", "closed", concurrency=1), Case("unary-100B", "closed", concurrency=16)]
    cases += [Case("unary-100B", "open", rate=r) for r in rates]
    cases += [Case("unary-1KB", "open", rate=rates[len(rates) // 2])]
    if closed:
        cases += [Case("unary-1KB", "closed", concurrency=16)]
    cases += [Case("unary-64KB", "open", rate=big_rate)]
    if closed:
        cases += [Case("unary-64KB", "closed", concurrency=16)]
    cases += [Case("server-stream", "closed", concurrency=4), Case("bidi", "closed", concurrency=4)]
    cases += [Case("unary-cache-hit", "closed", concurrency=c, targets=CACHE_TARGETS) for c in (1, 16)]
    return Profile(name, duration, warmup, 2, tuple(cases), rounds, lead)


PROFILES = {
    "default": _profile("default", 1.0, 0.4, (500, 1000, 2000), 500, closed=True, rounds=2),
    "quick": _profile("quick", 0.6, 0.25, (1000,), 200, closed=False),
    # tests: a worker that gets its part late is still inside the warm-up, which is longer than the lead
    "tiny": _profile("tiny", 0.25, 0.1, (200,), 100, closed=False, lead=0.05),
}


@dataclass
class Options:
    profile: str = "default"
    targets: tuple[str, ...] | None = None  # None: every standard target (and sidecar-cache)
    workers: int | None = None
    duration: float | None = None
    out: Path = Path("benchmarks/results")
    plots: bool = True
    rounds: int | None = None
    cases: tuple[str, ...] | None = None  # None: every case of the profile; else these labels ("bidi c=4", ...)
    cache_policy: dict[str, Any] = field(default_factory=lambda: dict(targets.DEFAULT_CACHE_POLICY))
    command: str = ""


def _usage(pids: list[int]) -> tuple[float, int, int]:
    """Summed CPU seconds, peak RSS (VmHWM, since the process started) and current RSS, in kB."""
    cpu, peak, rss = 0.0, 0, 0
    for pid in pids:
        found = procstat.usage(pid)
        if found is not None:
            cpu += found.cpu_s
            peak += found.peak_rss_kb
            rss += found.rss_kb
    return cpu, peak, rss


def measure(
    workers: Workers, target: targets.Target, case: Case, profile: Profile, echo: targets.Upstream
) -> dict[str, Any]:
    """Run one case against one target and return its figures."""
    workload = WORKLOADS[case.workload]
    job = Job(
        address=target.address,
        kind=workload.kind,
        method=workload.method,
        request=workload.request,
        mode=case.mode,
        rate=float(case.rate),
        concurrency=case.concurrency,
        start_at=time.monotonic() + profile.lead,
        warmup=profile.warmup,
        duration=profile.duration,
    )
    pids = {label: get() for label, get in target.processes.items()}
    cache_before = targets.cache_counts(target.cache_admin) if target.cache_admin else None
    upstream_before = echo.calls()
    wall_start = time.monotonic()
    before = {label: _usage(p) for label, p in pids.items()}
    echo_before = _usage([echo.pid])[0]
    outcome: Outcome = workers.run(split(job, workers.count))
    after = {label: _usage(p) for label, p in pids.items()}
    echo_cpu = _usage([echo.pid])[0] - echo_before
    wall = time.monotonic() - wall_start
    cache = None
    if cache_before is not None:
        cache_after = targets.cache_counts(target.cache_admin)
        cache = {k: cache_after[k] - cache_before[k] for k in cache_after}
    calls = max(outcome.all_completed, 1)
    processes: dict[str, dict[str, Any]] = {
        label: {
            "pids": pids[label],
            "cpu_s": round(after[label][0] - before[label][0], 3),
            "cpu_us_per_call": round((after[label][0] - before[label][0]) * 1e6 / calls, 1),
            "rss_mb": round(after[label][2] / 1024, 1),  # resident at the end of this run
            "peak_rss_mb": round(after[label][1] / 1024, 1),  # high-water mark since the process started
        }
        for label in pids
    }
    window = profile.duration
    return {
        "case": case.label,
        "workload": case.workload,
        "mode": case.mode,
        "rate": case.rate or None,
        "concurrency": case.concurrency or None,
        "target": target.name,
        "unit": workload.unit,
        "latency_us": outcome.histogram.summary(),
        "histogram": outcome.histogram.to_dict(),
        "throughput": round(outcome.completed / window, 1),
        "measured_calls": outcome.histogram.total,
        "completed_total": outcome.all_completed,
        "errors": dict(outcome.errors),
        "dropped": outcome.dropped,
        "proxy_processes": processes,
        "proxy_cpu_us_per_call": round(sum(p["cpu_us_per_call"] for p in processes.values()), 1) if pids else None,
        "proxy_rss_mb": round(sum(p["rss_mb"] for p in processes.values()), 1) if pids else None,
        "upstream_cpu_us_per_call": round(echo_cpu * 1e6 / calls, 1),
        "generator_cpu_pct": round(100 * outcome.worker_cpu_s / (window + profile.warmup), 1),
        "generator_send_lag_max_us": round(outcome.send_lag_max_s * 1e6, 1) if case.mode == "open" else None,
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews every figure
        "wall_s": round(wall, 3),  # the span the CPU figures were read over
        "cache": cache,  # a cached target's CacheAdmin hits/misses over the run, else None
        "upstream_calls": echo.calls() - upstream_before,  # the upstream's own count of calls it began
    }


def peaks(described: list[dict[str, Any]], live: dict[str, targets.Target]) -> None:
    """Each target's peak RSS over the whole suite (VmHWM per proxy process), and its ratio to nginx's."""
    for entry in described:
        target = live[entry["name"]]
        per = {label: round(_usage(get())[1] / 1024, 1) for label, get in target.processes.items()}
        entry["peak_rss_mb"] = round(sum(per.values()), 1) if per else None
        entry["processes_peak_rss_mb"] = per
    ref = next((e["peak_rss_mb"] for e in described if e["name"] == "nginx"), None)
    for entry in described:
        entry["peak_rss_vs_nginx"] = _ratio(entry["peak_rss_mb"], ref)


def least_disturbed(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Of one case x target's rounds, the one with the lowest median latency, the others summarised in it.

    On a shared machine other work only ever adds latency (as `timeit` takes the minimum): the round
    with the lowest p50 is the one least disturbed. Every round's summary stays in the report.
    """
    best = min(rounds, key=lambda run: (run["measured_calls"] == 0, run["latency_us"]["p50"]))
    best = dict(best)
    best["rounds"] = [
        {"latency_us": run["latency_us"], "throughput": run["throughput"], "load_average_1m": run["load_average_1m"]}
        for run in rounds
    ]
    return best


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b; None when either is missing or not positive (an added latency at or below zero is noise)."""
    if a is None or b is None or a < 0 or b <= 0:
        return None
    return round(a / b, 2)


def _ratios(run: dict[str, Any], ref: dict[str, Any]) -> dict[str, float | None]:
    added, ref_added = run["added_latency_us"] or {}, ref["added_latency_us"] or {}
    return {
        "p50": _ratio(run["latency_us"]["p50"], ref["latency_us"]["p50"]),
        "p99": _ratio(run["latency_us"]["p99"], ref["latency_us"]["p99"]),
        "added_p50": _ratio(added.get("p50"), ref_added.get("p50")),
        "added_p99": _ratio(added.get("p99"), ref_added.get("p99")),
        "throughput": _ratio(run["throughput"], ref["throughput"]),
        "cpu_us_per_call": _ratio(run["proxy_cpu_us_per_call"], ref["proxy_cpu_us_per_call"]),
        "rss_mb": _ratio(run["proxy_rss_mb"], ref["proxy_rss_mb"]),
    }


def compare(runs: list[dict[str, Any]]) -> None:
    """Add to every run of each case, in place: `added_latency_us` (vs direct), `vs_nginx` (ratios to
    nginx) and `vs_grpc` (an h2 target's ratios to its grpc twin, e.g. mesh-h2 / mesh; else None)."""
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_case.setdefault(run["case"], {})[run["target"]] = run
    for case_runs in by_case.values():
        base = case_runs.get("direct")
        for run in case_runs.values():
            if base is not None:
                run["added_latency_us"] = {
                    k: round(run["latency_us"][k] - base["latency_us"][k], 1) for k in ("p50", "p90", "p99")
                }
            else:
                run["added_latency_us"] = None
        ref = case_runs.get("nginx")
        for name, run in case_runs.items():
            run["vs_nginx"] = None if ref is None or name == "direct" else _ratios(run, ref)
            twin = case_runs.get(name.removesuffix(targets.H2_SUFFIX)) if name.endswith(targets.H2_SUFFIX) else None
            run["vs_grpc"] = None if twin is None else _ratios(run, twin)


def transport_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every case's h2 targets beside their grpc twins: CPU per call, added p50 and throughput of both."""
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_case.setdefault(run["case"], {})[run["target"]] = run
    rows = []
    for case, case_runs in by_case.items():
        for name, run in case_runs.items():
            if run.get("vs_grpc") is None:
                continue
            grpc = case_runs[name.removesuffix(targets.H2_SUFFIX)]
            added = (grpc["added_latency_us"] or {}, run["added_latency_us"] or {})
            rows.append(
                {
                    "case": case,
                    "path": grpc["target"],
                    "cpu_us_per_call": (grpc["proxy_cpu_us_per_call"], run["proxy_cpu_us_per_call"]),
                    "added_p50_us": (added[0].get("p50"), added[1].get("p50")),
                    "throughput": (grpc["throughput"], run["throughput"]),
                    "h2_vs_grpc": run["vs_grpc"],
                    "h2_vs_nginx": run["vs_nginx"],
                    "grpc_vs_nginx": grpc["vs_nginx"],
                }
            )
    return rows


def issue2_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 2's table: unary echo direct vs through the sidecar at concurrency 1 and 16."""
    rows = []
    for run in runs:
        if run["workload"] == "unary-100B" and run["mode"] == "closed" and run["target"] in ("direct", "sidecar-out"):
            rows.append(
                {
                    "target": run["target"],
                    "concurrency": run["concurrency"],
                    "throughput": run["throughput"],
                    "p50_us": run["latency_us"]["p50"],
                    "p99_us": run["latency_us"]["p99"],
                    "sidecar_cpu_us_per_call": run["proxy_cpu_us_per_call"],
                }
            )
    return sorted(rows, key=lambda r: (r["concurrency"], r["target"] != "direct"))


def start_targets(
    names: list[str], echo: targets.Upstream, cache_policy: dict[str, Any]
) -> dict[str, targets.Target | targets.Unavailable]:
    """Every named target, started side by side (a sidecar's start-up is mostly Python imports: on two cores
    this takes about half as long as one after the other), in `names` order; a target that cannot run is
    its Unavailable. Any other failure stops the targets already started and is raised."""

    def build(name: str) -> targets.Target:
        if name == "sidecar-cache":
            return targets.sidecar_cached(echo, cache_policy)
        return targets.BUILDERS[name](echo)

    out: dict[str, targets.Target | targets.Unavailable] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
        futures = {name: pool.submit(build, name) for name in names}
        for name, future in futures.items():
            try:
                out[name] = future.result()
            except targets.Unavailable as exc:
                out[name] = exc
            except BaseException as exc:
                failure = failure or exc
    if failure is not None:
        for built in out.values():
            if isinstance(built, targets.Target):
                built.stop()
        raise failure
    return out


def run_suite(options: Options, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start the upstream, the targets and the generator; run every case; return the report dict."""
    from benchmarks import report

    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    profile = PROFILES[options.profile]
    if options.duration is not None:
        profile = replace(profile, duration=options.duration)
    if options.rounds is not None:
        profile = replace(profile, rounds=options.rounds)
    if options.cases is not None:
        unknown = set(options.cases) - {c.label for c in profile.cases}
        if unknown:
            raise ValueError(f"no case {sorted(unknown)} in profile {profile.name}")
        profile = replace(profile, cases=tuple(c for c in profile.cases if c.label in options.cases))
    wanted = options.targets or (*STANDARD_TARGETS, "sidecar-cache")
    cases = [c for c in profile.cases if any(t in wanted for t in c.targets)]
    workers_n = options.workers or profile.workers
    result: dict[str, Any] = {
        "suite": "apex-bench",
        "profile": profile.name,
        "command": options.command,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": {
            "duration_s": profile.duration,
            "warmup_s": profile.warmup,
            "workers": workers_n,
            "rounds": profile.rounds,
        },
        "machine": procstat.machine({t: targets.tool_version(t) for t in ("nginx", "haproxy")}),
        "workloads": {name: {"kind": w.kind, "unit": w.unit, "note": w.note} for name, w in WORKLOADS.items()},
        "targets": [],
        "skipped": [],
        "runs": [],
    }
    echo: targets.Upstream = targets.EchoUpstream()
    live: dict[str, targets.Target] = {}
    workers = Workers(workers_n)
    try:
        needed = [t for t in (*STANDARD_TARGETS, "sidecar-cache") if t in wanted and any(t in c.targets for c in cases)]
        for name, built in start_targets(needed, echo, options.cache_policy).items():
            if isinstance(built, targets.Unavailable):
                result["skipped"].append({"target": name, "reason": str(built)})
                log(f"skipping target {name}: {built}")
                continue
            target = built
            error = workers.probe(target.address, WORKLOADS["unary-100B"].method, WORKLOADS["unary-100B"].request)
            if error:
                target.stop()
                result["skipped"].append({"target": name, "reason": f"no successful call: {error}"})
                log(f"skipping target {name}: {error}")
                continue
            live[name] = target
            result["targets"].append({"name": name, "description": target.description, "address": target.address})
        if "sidecar-cache" not in live:
            if "sidecar-cache" in wanted:
                reason = next(s["reason"] for s in result["skipped"] if s.get("target") == "sidecar-cache")
                result["skipped"].append({"workload": "unary-cache-hit", "reason": reason})
            cases = [c for c in cases if c.workload != "unary-cache-hit"]
        plan = []
        for r in range(profile.rounds):
            for case in cases:
                names = [t for t in case.targets if t in live and t in wanted]
                shift = r % max(len(names), 1)  # each round starts the comparison with a different target
                plan += [(r, case, live[t]) for t in names[shift:] + names[:shift]]
        progress = Progress(len(plan))
        progress.step("starting")
        measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r, case, target in plan:
            text = f"{case.label} → {target.name}" + (
                f" (round {r + 1}/{profile.rounds})" if profile.rounds > 1 else ""
            )
            progress.step(text)
            measured.setdefault((case.label, target.name), []).append(measure(workers, target, case, profile, echo))
            progress.advance(text)
        progress.finish()
        result["runs"] = [least_disturbed(rounds) for rounds in measured.values()]
        peaks(result["targets"], live)
    finally:
        workers.close()
        for target in live.values():
            target.stop()
        echo.close()
    compare(result["runs"])
    result["issue2"] = issue2_rows(result["runs"])
    result["transports"] = transport_rows(result["runs"])
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["files"] = report.write(result, options.out, plots=options.plots)
    return result
