"""`apex admin stats` shows each route's p50/p95/p99, and `--json` gives counts as numbers (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys

import grpc
import pytest
from apex.mesh.contract.histogram import RELATIVE_ERROR
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc

from sidecar.examples.echo import BackgroundEcho
from tests.support.observed import observed_config
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

DELAY_MS = 20


def test_admin_stats_prints_latency_quantiles_and_json_numbers(echo: BackgroundEcho) -> None:
    config = observed_config(echo.address, service="timed", metrics={"address": "127.0.0.1:0"})
    with SidecarProcess(config) as proc:
        with grpc.insecure_channel(proc["outbound"]) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            for _ in range(10):
                stub.Unary(echo_pb2.EchoRequest(payload=b"x", delay_ms=DELAY_MS), timeout=10)
        admin = [sys.executable, "-m", "sidecar", "admin", "--admin", proc["admin"]]
        text = subprocess.run([*admin, "stats"], capture_output=True, text=True, timeout=60, check=True).stdout
        raw = subprocess.run([*admin, "--json", "stats"], capture_output=True, text=True, timeout=60, check=True)
    header = next(line for line in text.splitlines() if line.startswith("LISTENER"))
    assert header.split()[5:8] == ["P50", "P95", "P99"]
    row = next(line.split() for line in text.splitlines() if line.startswith("outbound"))
    assert row[3] == "10" and all(cell.endswith("ms") for cell in row[5:8])
    routes = {r["route"]: r for r in json.loads(raw.stdout)["routes"]}
    echo_route = routes["echo"]
    assert echo_route["calls"] == 10 and echo_route["latency_count"] == 10  # numbers, not "10"
    assert echo_route["status_codes"] == {"OK": 10}
    # Every call took at least DELAY_MS (a lower bound only: no timing upper bound on a loaded machine).
    assert echo_route["p50_seconds"] >= DELAY_MS / 1000 * (1 - RELATIVE_ERROR)
    assert echo_route["p50_seconds"] <= echo_route["p95_seconds"] <= echo_route["p99_seconds"]
    assert float(row[5].removesuffix("ms")) == pytest.approx(echo_route["p50_seconds"] * 1000, rel=0.01)
