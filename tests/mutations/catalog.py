"""The bugs issue 16 planted (and a few more of the same kind), as edits to a copy of the tree,
each with the tests that must fail on it. Run them with tests/mutations/run.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the repository root
    old: str = ""  # exact text (or a regex with regex=True) that must occur exactly once
    new: str = ""
    regex: bool = False
    delete: bool = False  # remove the file or directory instead


@dataclass(frozen=True)
class Mutation:
    name: str
    point: int  # the numbered point of issue 16
    bug: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


CONFORMANCE = "tests/conformance"
TRANSPARENCY = "tests/conformance/test_transparency.py"

MUTATIONS: tuple[Mutation, ...] = (
    # --- 1. conformance proves traversal ------------------------------------------------------
    Mutation(
        "inbound-target-at-upstream",
        1,
        "the inbound target dials the upstream directly, bypassing sidecar B",
        (
            Edit(
                f"{CONFORMANCE}/conftest.py",
                '"inbound", side_b["inbound"], upstream',
                '"inbound", upstream.address, upstream',
            ),
        ),
        (CONFORMANCE,),
    ),
    Mutation(
        "mesh-bypasses-sidecar-b",
        1,
        "sidecar A routes straight to the upstream, skipping sidecar B on the mesh path",
        (
            Edit(
                f"{CONFORMANCE}/conftest.py",
                'mesh_config(side_b["inbound"], name="a",',
                'mesh_config(upstream.address, name="a",',
            ),
        ),
        (CONFORMANCE,),
    ),
    Mutation(
        "inbound-plain-bypasses-its-sidecar",
        1,
        "the inbound-plain target dials its upstream directly, bypassing its sidecar",
        (
            Edit(
                f"{CONFORMANCE}/conftest.py",
                '"inbound-plain", side_plain["inbound"]',
                '"inbound-plain", plain_upstream.address',
            ),
        ),
        (f"{TRANSPARENCY}::test_same_outcome",),
    ),
    # --- 2. deadlines -------------------------------------------------------------------------
    Mutation(
        "no-deadline-layer",
        2,
        "the deadline layer is removed from the route stack (expired calls are forwarded)",
        (Edit("sidecar/runtime/stack.py", r"^[ \t]*timeout\.Deadline\(\),[ \t]*\n", "", regex=True),),
        (
            f"{TRANSPARENCY}::test_expired_deadline_is_answered_by_the_first_sidecar",
            "tests/unit/runtime/test_stack_wiring.py",
        ),
    ),
    Mutation(
        "deadline-shaved-by-a-hop",
        2,
        "the connector sends the upstream 0.9 s less than the caller's remaining time",
        (
            Edit(
                "sidecar/transport/grpc_aio/client.py",
                "max(deadline - time.monotonic(), 0.0)",
                "max(deadline - time.monotonic() - 0.9, 0.0)",
            ),
        ),
        (f"{TRANSPARENCY}::test_deadline_propagates",),
    ),
    # --- 3. benchmarks honestly checked ---------------------------------------------------------
    Mutation(
        "procstat-wrong-cpu-fields",
        3,
        "procstat reads cutime+cstime (children's CPU) instead of utime+stime: the sidecar reads 0 µs a call",
        (Edit("benchmarks/procstat.py", "int(fields[11]) + int(fields[12])", "int(fields[13]) + int(fields[14])"),),
        ("tests/unit/benchmarks/test_procstat.py", "tests/unit/benchmarks/test_cache_bench.py"),
    ),
    Mutation(
        "suite-cache-never-hits",
        3,
        "the suite's cached sidecar gets a rule that never matches: its unary-cache-hit calls all go upstream",
        (Edit("benchmarks/targets.py", '"method": f"/{ECHO_SERVICE}/Unary"', '"method": f"/{ECHO_SERVICE}/Unary2"'),),
        ("tests/integration/test_bench_suite.py",),
    ),
    Mutation(
        "cache-bench-never-hits",
        3,
        "cache_bench's cache rule sits on the plain listener: its 'hit' scenario never hits",
        (Edit("benchmarks/cache_bench.py", '"listeners": ["cached"]', '"listeners": ["plain"]'),),
        ("tests/unit/benchmarks/test_cache_bench.py",),
    ),
    Mutation(
        "observability-cpu-before-flush",
        3,
        "observability_bench reads CPU as soon as the batches end, before window rolls and span exports",
        (
            Edit(
                "benchmarks/observability_bench.py",
                "            await deferred.wait(sent)\n            after =",
                "            after =",
            ),
        ),
        ("tests/unit/benchmarks/test_observability_bench.py",),
    ),
    Mutation(
        "closed-loop-drops-errors",
        3,
        "closed-loop unary calls that fail are counted but left out of the percentiles",
        (
            Edit(
                "benchmarks/load.py",
                "                await self.unary(self.job.request, timeout=self.job.timeout)\n"
                "            except Exception as exc:\n"
                "                self._failed(exc, started)",
                "                await self.unary(self.job.request, timeout=self.job.timeout)\n"
                "            except Exception as exc:\n"
                "                self._error(exc)",
            ),
        ),
        ("tests/unit/benchmarks/test_load.py",),
    ),
    Mutation(
        "cluster-overhead-never-fails",
        3,
        "cluster_overhead's 'failing' endpoint answers OK: the failure paths it reports never run",
        (
            Edit(
                "benchmarks/cluster_overhead.py",
                "BufferedResponse(DOWN if failing and address == FAILING else OK)",
                "BufferedResponse(OK)",
            ),
        ),
        ("tests/unit/benchmarks/test_cluster_overhead.py",),
    ),
    Mutation(
        "convergence-waits-for-one-sidecar",
        3,
        "control_convergence stops the clock when any one sidecar has ACKed, not all of them",
        (Edit("benchmarks/control_convergence.py", "all(i.applied_version == v", "any(i.applied_version == v"),),
        ("tests/unit/benchmarks/test_control_convergence.py",),
    ),
    # --- 4. silent skips and self-grading -----------------------------------------------------
    Mutation(
        "nab-data-missing",
        4,
        "the NAB data is not where the forecast test looks (it must fail, not skip)",
        (),
        ("tests/unit/engines/forecast/test_model_decide.py::test_beats_naive_on_a_real_series",),
        env={"APEX_SHARED": "/nonexistent-shared"},
    ),
    Mutation(
        "deploy-engines-dir-gone",
        4,
        "engines/ disappears while the Dockerfiles still copy it (the check must fail, not skip)",
        (Edit("engines", delete=True),),
        ("tests/unit/deploy/test_deploy_files.py::test_dockerfile_copies_existing_paths",),
    ),
    Mutation(
        "demo-leaves-redis-running",
        4,
        "the demo does not stop its Redis (its own stray count leaves Redis out)",
        (Edit("sidecar/demo/mesh.py", "            self.redis_server.close()\n", "            pass\n"),),
        ("tests/integration/test_demo.py::test_demo_runs_unattended_and_an_engine_acts",),
    ),
    Mutation(
        "ejected-endpoint-still-picked",
        4,
        "calls keep going to a stopped endpoint after it was ejected (`failed` was computed, never asserted)",
        (
            Edit(
                "sidecar/layers/cluster/state.py",
                "lambda ld: ld.address not in out and ld.address not in sick",
                "lambda ld: ld.address not in sick",
            ),
        ),
        (
            "tests/integration/test_cluster_resilience.py::test_connect_failures_eject_a_stopped_endpoint_even_when_unavailable_is_not_a_failure_code",
        ),
    ),
    Mutation(
        "rollout-rank-reordered",
        4,
        "canary ranks hash (service, instance, version) instead of (service, version, instance)",
        (
            Edit(
                "engines/control/rollout.py",
                'f"{service}\\x00{version}\\x00{instance}"',
                'f"{service}\\x00{instance}\\x00{version}"',
            ),
        ),
        ("tests/unit/engines/control/test_rollout.py",),
    ),
    Mutation(
        "diff-added-values-unquoted",
        4,
        "added fields are listed without their values' quotes",
        (
            Edit(
                "engines/control/diff.py",
                "Change(path, ADDED, new=after[path])",
                "Change(path, ADDED, new=after[path].strip('\"'))",
            ),
        ),
        ("tests/unit/engines/control/test_diff.py",),
    ),
)
