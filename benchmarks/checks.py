"""Figures of a latency-suite report that cannot be right (apex bench exits 1 on any)."""

from __future__ import annotations

from typing import Any


def problems(result: dict[str, Any]) -> list[str]:
    """Runs whose figures cannot be right: nothing completed; a proxy whose CPU time read zero or more
    than the cores could give over the run; a cache-hit case on a cached target whose calls missed."""
    cores = result["machine"]["cores"] or 1
    found = []
    for run in result["runs"]:
        where = f"{run['case']} → {run['target']}"
        if run["measured_calls"] == 0:
            found.append(f"{where}: no call completed {run['errors']}")
        for label, proc in run["proxy_processes"].items():
            # a sidecar spends hundreds of µs a call: zero means the CPU was not read (nginx or HAProxy
            # may fall under one 10 ms clock tick in a short run)
            floor_ok = proc["cpu_s"] > 0 or run["target"] in ("nginx", "haproxy")
            if not (floor_ok and 0 <= proc["cpu_s"] <= run["wall_s"] * cores):
                found.append(f"{where}: {label} used {proc['cpu_s']} s CPU in {run['wall_s']} s on {cores} cores")
        cache = run.get("cache")
        missed = cache is not None and (cache["misses"] > 1 or cache["hits"] < run["completed_total"] - 1)
        if run["workload"] == "unary-cache-hit" and missed:
            found.append(f"{where}: {cache} for {run['completed_total']} calls: the calls did not hit")
    return found
