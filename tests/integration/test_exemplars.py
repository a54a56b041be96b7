"""Exemplars: a sidecar's windows carry the trace ids of the slowest and failed sampled calls, and
/metrics shows them as OpenMetrics exemplars when the scraper asks for OpenMetrics (issue 15 item 2)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator

import grpc
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from sidecar.cli import main
from sidecar.examples.echo import BackgroundEcho
from sidecar.support.otlp_receiver import OtlpReceiver
from tests.support.observed import get_metrics, observed_config, poll, route_calls, unary, windows
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver().start()
    yield r
    r.stop()


def openmetrics(address: str) -> tuple[str, str]:
    request = urllib.request.Request(
        f"http://{address}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0,*/*;q=0.1"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_windows_stat_and_openmetrics_carry_the_trace_ids_of_sampled_calls(
    echo: BackgroundEcho, receiver: OtlpReceiver, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    service = f"exemplars-{uuid.uuid4().hex[:8]}"
    config = observed_config(
        echo.address, service=service, metrics={"address": "127.0.0.1:0"},
        telemetry={"redis_url": redis_url, "window": "200ms"},
        tracing={"enabled": True, "sampling_percent": 100, "otlp_endpoint": receiver.address},
    )  # fmt: skip
    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 4)
        unary(proc["outbound"], 2, status=UNAVAILABLE)
        ctype, om_text = openmetrics(proc["metrics"])
        plain = get_metrics(proc["metrics"])
        ws = poll(lambda: windows(redis_url, service), lambda got: route_calls(got) >= 6)
    # Windows: every failed call named once, and a slowest call per window with calls.
    routes = [r for w in ws for r in w.routes if r.route == "echo" and r.stats.calls]
    failed = [e for r in routes for e in r.failed]
    assert len(failed) == 2 and {e.code for e in failed} == {"UNAVAILABLE"}
    assert all(len(e.trace_id) == 32 and len(e.span_id) == 16 and e.method == "/apex.mesh.v1.Echo/Unary"
               for e in failed)  # fmt: skip
    assert all(r.HasField("slowest") and len(r.slowest.trace_id) == 32 for r in routes)
    # /metrics: exemplars only in OpenMetrics, and they parse.
    assert ctype.startswith("application/openmetrics-text") and om_text.endswith("# EOF\n")
    assert " # {" not in plain and "# EOF" not in plain
    exemplars = {
        (s.name, s.labels.get("code", "")): s.exemplar
        for family in parse_openmetrics(om_text)
        for s in family.samples
        if s.exemplar is not None and s.labels.get("route") == "echo"
    }
    buckets = [e for (name, _), e in exemplars.items() if name == "apex_route_duration_seconds_bucket"]
    assert buckets and all(len(e.labels["trace_id"]) == 32 for e in buckets)
    failing = exemplars[("apex_route_responses_total", "UNAVAILABLE")]
    assert failing.labels["trace_id"] in {e.trace_id for e in failed}
    # apex stat: the same trace ids, in the table's footer and in --json.
    capsys.readouterr()
    assert main(["stat", "--service", service, "--redis", redis_url, "--by", "route", "--since", "5m"]) == 0
    text = capsys.readouterr().out
    assert "exemplars (trace ids of sampled calls):" in text
    assert all(f"failed UNAVAILABLE /apex.mesh.v1.Echo/Unary  trace {e.trace_id}" in text for e in failed)
    assert main(["stat", "--service", service, "--redis", redis_url, "--by", "route", "--since", "5m", "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["route"] == "echo"]
    assert {e["trace_id"] for e in row["failed"]} == {e.trace_id for e in failed}
    assert row["slowest"]["trace_id"] in {r.slowest.trace_id for r in routes}
