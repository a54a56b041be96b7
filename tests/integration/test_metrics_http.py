"""/metrics from a real sidecar process, parsed with prometheus_client's text parser."""

from __future__ import annotations

import urllib.error
import urllib.request

import grpc
import pytest
from apex.mesh.v1 import echo_pb2, echo_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from sidecar.examples.echo import BackgroundEcho
from tests.support.observed import get_metrics, observed_config, unary
from tests.support.sidecar_proc import SidecarProcess

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_metrics_parse_and_match_the_calls(echo: BackgroundEcho) -> None:
    config = observed_config(echo.address, service="metered", metrics={"address": "127.0.0.1:0"})
    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 25)
        unary(proc["outbound"], 5, status=grpc.StatusCode.UNAVAILABLE.value[0])
        unary(proc["inbound"], 3)
        with grpc.insecure_channel(proc["outbound"]) as channel:  # a second method on the same route
            stream = echo_pb2_grpc.EchoStub(channel).ServerStream(echo_pb2.EchoRequest(payload=b"x"), timeout=10)
            list(stream)  # status OK, whatever the count
        text = get_metrics(proc["metrics"])
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://{proc['metrics']}/nothing", timeout=10)
        assert missing.value.code == 404
    got = samples(text)
    route = {("listener", "outbound"), ("route", "echo"), ("cluster", "echo")}
    unary_ = route | {("method", "/apex.mesh.v1.Echo/Unary")}
    streamed = route | {("method", "/apex.mesh.v1.Echo/ServerStream")}
    assert got[("apex_route_requests_total", frozenset(unary_))] == 30
    assert got[("apex_route_requests_total", frozenset(streamed))] == 1
    assert got[("apex_route_responses_total", frozenset(unary_ | {("code", "OK")}))] == 25
    assert got[("apex_route_responses_total", frozenset(unary_ | {("code", "UNAVAILABLE")}))] == 5
    assert got[("apex_route_responses_total", frozenset(streamed | {("code", "OK")}))] == 1
    assert got[("apex_route_in_flight", frozenset(route))] == 0  # in-flight and bytes stay per route
    assert got[("apex_route_duration_seconds_count", frozenset(unary_))] == 30
    assert got[("apex_route_duration_seconds_count", frozenset(streamed))] == 1
    assert got[("apex_route_duration_seconds_bucket", frozenset(unary_ | {("le", "+Inf")}))] == 30
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in got.items()
        if name == "apex_route_duration_seconds_bucket" and unary_ <= labels
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert got[("apex_route_duration_seconds_sum", frozenset(unary_))] > 0
    assert got[("apex_route_request_bytes_total", frozenset(route))] > 0
    inbound = {("listener", "inbound"), ("route", "local"), ("cluster", "local")}
    assert got[("apex_route_requests_total", frozenset(inbound | {("method", "/apex.mesh.v1.Echo/Unary")}))] == 3
    endpoint = {("cluster", "echo"), ("endpoint", echo.address)}
    assert got[("apex_endpoint_requests_total", frozenset(endpoint))] == 31
    assert got[("apex_policy_info", frozenset({("version", "")}))] == 1
    assert got[("apex_unrouted_total", frozenset())] == 0


def test_retries_show_as_route_decisions_and_endpoint_attempts(echo: BackgroundEcho) -> None:
    config = observed_config(echo.address, service="retrying", metrics={"address": "127.0.0.1:0"})
    outbound = config["policy"]["route_tables"][1]["routes"][0]
    outbound["retry"] = {
        "max_attempts": 3, "retry_on": ["UNAVAILABLE"], "backoff_base": "1ms", "backoff_max": "2ms",
        "retry_non_idempotent": True, "budget": {"retry_percent": 100, "min_retries_per_second": 1000},
    }  # fmt: skip
    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 5, status=grpc.StatusCode.UNAVAILABLE.value[0])
        got = samples(get_metrics(proc["metrics"]))
    route = {("listener", "outbound"), ("route", "echo"), ("cluster", "echo")}
    assert got[("apex_route_requests_total", frozenset(route | {("method", "/apex.mesh.v1.Echo/Unary")}))] == 5
    assert got[("apex_route_policy_decisions_total", frozenset(route | {("decision", "retries")}))] == 10
    endpoint = {("cluster", "echo"), ("endpoint", echo.address)}
    assert got[("apex_endpoint_requests_total", frozenset(endpoint))] == 15  # every attempt
    assert got[("apex_endpoint_responses_total", frozenset(endpoint | {("code", "UNAVAILABLE")}))] == 15
