# Apex Mesh — `make demo` runs a live local mesh, `make test` runs the whole suite.
# Both start with `make install`, which builds .venv/ and does nothing when it is up to date.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test demo protos check-protos lint bench bench-smoke bench-forecast bench-nab bench-ingest bench-scenarios-sim bench-scenarios bench-tuner bench-h2-candidates bench-mtls test-mesh-mtls clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Apex Mesh needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

protos: install
	$(BIN)/python protos/generate.py

check-protos: install
	$(BIN)/python protos/generate.py --check

test: install
	$(BIN)/python protos/generate.py --check
	$(BIN)/lint-imports  # the layering contracts in pyproject.toml [tool.importlinter]
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check sidecar engines benchmarks tests protos/apex/mesh/contract protos/apex/mesh/bus protos/apex/mesh/security
	$(BIN)/mypy sidecar engines
	$(BIN)/mypy protos/apex/mesh/contract protos/apex/mesh/bus protos/apex/mesh/security

demo: install
	$(BIN)/apex demo $(DEMO_ARGS)

bench: install
	$(BIN)/apex bench $(BENCH_ARGS)

# The whole tiny profile of the latency suite (every case on every target, seconds each): `make test` runs
# one case of each kind on every target (tests/integration/test_bench_suite.py), this runs the rest too.
bench-smoke: install
	$(BIN)/apex bench --profile tiny $(BENCH_ARGS)

bench-forecast: install
	$(BIN)/python -m benchmarks.forecast_eval $(BENCH_ARGS)

# Telemetry ingestion scale-out: windows/s for one engine process and two in one consumer group, on a
# three-master Redis Cluster started locally (docs/scale-out.md; figures in benchmarks/RESULTS.md).
bench-ingest: install
	$(BIN)/python -m benchmarks.ingest_scale $(BENCH_INGEST_ARGS)

# The tuning scenario suite in the simulator: default, oracle, adaptive baselines and tuned per scenario.
bench-scenarios-sim: install
	$(BIN)/apex tune simulate $(foreach f,$(sort $(wildcard benchmarks/scenarios/*.yaml)),--scenario $(f)) $(TUNE_ARGS)

# The tuning engine's CPU per telemetry window and per decision (real Redis and control plane, shadow mode).
bench-tuner: install
	$(BIN)/python -m benchmarks.tuner_cost $(BENCH_ARGS)

# The tuning scenario suite with real processes (Redis, control plane, sidecar, one upstream process per
# endpoint, open-loop load, the tuner): a table, PNG plots and the simulator's calibration, written to
# benchmarks/scenario-results/ (benchmarks/scenario_run/suite.py; figures in benchmarks/RESULTS.md, "Tuning").
# The default arguments run each 120 s scenario in 60 s at a quarter of its rates (a shared 2-core machine).
SCENARIO_ARGS ?= --time-scale 0.5 --rate-scale 0.25 --baselines
bench-scenarios: install
	$(BIN)/python -m benchmarks.scenario_run.suite $(SCENARIO_ARGS)

# issue 13: CPU per relayed call on each HTTP/2 codec candidate (ngh2 is installed here only: it is
# measured, not a dependency; without it that candidate is skipped with the reason)
bench-h2-candidates: install
	$(BIN)/python -m pip install --quiet 'ngh2==0.3.0' || echo "ngh2 not installable: that candidate is skipped"
	$(BIN)/python -m benchmarks.h2_candidates $(BENCH_ARGS)

# issue 14: what mTLS costs per transport: CPU per call on established connections (target: at most +10%),
# a new connection's handshake, a certificate rotation under load (docs/security.md; figures in RESULTS.md).
bench-mtls: install
	$(BIN)/python -m benchmarks.mtls_cost $(BENCH_ARGS)

# `make test` runs the mesh mTLS renewal test on grpc and the CA rotation test on h2 only; this runs both on both
# (tests/integration/test_mesh_mtls.py says why one transport each is enough there).
test-mesh-mtls: install
	APEX_SLOW_TESTS=1 $(BIN)/python -m pytest -q tests/integration/test_mesh_mtls.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The anomaly detector on the NAB developer subset (three profiles) and synthetic series, and its speed.
bench-nab: install
	$(BIN)/python -m benchmarks.nab_eval $(BENCH_NAB_ARGS)
