"""The ecosystem files in deploy/: the Grafana dashboard, the Prometheus scrape configs, the k8s schemas.

* Every query of the dashboard parses as PromQL (promql-parser) and names only metrics and labels
  that a real sidecar's /metrics exposes (rendered here from a sidecar process, and for the security
  series by the same renderer from a registry holding every security part), plus the labels the
  scrape config adds.
* The Prometheus configs scrape the port and path the sidecar configs and manifests declare.
* Every Kubernetes manifest validates against the Kubernetes OpenAPI schemas (kubernetes-validate,
  which bundles them), strictly: an unknown field fails too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import grpc
import kubernetes_validate
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sidecar.examples.echo import BackgroundEcho
from sidecar.telemetry import prometheus
from sidecar.telemetry.registry import Registry
from sidecar.telemetry.security_metrics import ListenerSecurity, SecurityView, TokenRoute
from tests.support.observed import get_metrics, observed_config, unary
from tests.support.sidecar_proc import SidecarProcess

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "apex-mesh.json"
K8S_VERSION = "1.33.0"  # the schemas the manifests are checked against (a supported Kubernetes release)
METRICS_PORT = 9102
# Labels Prometheus itself or our relabelling (deploy/prometheus/*.yml) put on every series.
SCRAPE_LABELS = {"job", "instance", "namespace", "pod", "service"}
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


# --- the dashboard against a real sidecar's /metrics -------------------------------------------------


@pytest.fixture(scope="module")
def exposed(echo: BackgroundEcho) -> tuple[set[str], set[str]]:
    """(metric names, label names) of a real sidecar's /metrics after OK, failed and retried calls."""
    config = observed_config(echo.address, service="dash", metrics={"address": "127.0.0.1:0"})
    config["policy"]["route_tables"][1]["routes"][0]["retry"] = {
        "max_attempts": 2, "retry_on": ["UNAVAILABLE"], "backoff_base": "1ms", "backoff_max": "2ms",
        "retry_non_idempotent": True, "budget": {"retry_percent": 100, "min_retries_per_second": 1000},
    }  # fmt: skip
    with SidecarProcess(config) as proc:
        unary(proc["outbound"], 3)
        unary(proc["outbound"], 2, status=grpc.StatusCode.UNAVAILABLE.value[0])
        text = get_metrics(proc["metrics"])
    names: set[str] = set()
    labels: set[str] = set()
    for family in text_string_to_metric_families(text + security_metrics_text()):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")  # the parser strips _total from counter family names
        if family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count")}
        for sample in family.samples:
            names.add(sample.name)
            labels |= set(sample.labels)
    return names, labels


def security_metrics_text() -> str:
    """The security families as the sidecar's /metrics renders them (prometheus.render of a registry), with
    every part present: that sidecar above has no identity, mTLS, JWT provider or OAuth2 route to show."""
    registry = Registry(lambda: 0.0)
    registry.security = SecurityView(
        identity="spiffe://cluster.local/ns/default/sa/dash", certificate_not_after=2e9, certificate_generation=2,
        listeners={"inbound": ListenerSecurity("strict", {"mtls": 1}, {"not_allowed": 1}, {"unknown_ca": 1})},
        outbound_handshake_failures={"expired": 1}, access_refused={"admin": {"no_token": 1}},
        access_handshake_failures={"metrics": {"timeout": 1}}, jwks={"corp": {"fetch_errors": 1}},
        jwks_keys={"corp": 2}, oauth2={("outbound", "partner"): TokenRoute({"failed": 1}, 2e9)},
    )  # fmt: skip
    return prometheus.render(registry)


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    out = []
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):  # a row has none
            out.append((f"panel {panel['title']!r} target {target['refId']}", target["expr"]))
    for var in dashboard()["templating"]["list"]:
        if var["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"]["query"])
            assert match, f"variable {var['name']}: expected label_values(<selector>, <label>)"
            out.append((f"variable {var['name']}", match.group(1)))
    return out


def grafana_free(expr: str) -> str:
    for name, value in GRAFANA_VARS.items():
        expr = expr.replace(name, value)
    return expr


def test_every_dashboard_query_is_promql_naming_metrics_the_sidecar_exposes(exposed: tuple[set[str], set[str]]) -> None:
    names, labels = exposed
    assert "apex_route_duration_seconds_bucket" in names and "route" in labels  # the sidecar really answered
    used: set[str] = set()
    for where, expr in queries():
        try:
            promql_parser.parse(grafana_free(expr))
        except Exception as exc:
            raise AssertionError(f"{where}: not PromQL: {exc}\n{expr}") from None
        metrics = set(re.findall(r"\bapex_[a-z0-9_]+", expr))
        assert metrics, f"{where}: names no apex_ metric"
        missing = metrics - names
        assert not missing, f"{where}: /metrics has no {sorted(missing)}"
        used |= metrics
        for label in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            for name in filter(None, (s.strip() for s in label.split(","))):
                assert name in labels | SCRAPE_LABELS | {"le"}, f"{where}: no series has label {name!r}"
        for name in re.findall(r"[{,]\s*(\w+)\s*(?:=~|!~|!=|=)", expr):
            assert name in labels | SCRAPE_LABELS, f"{where}: no series has label {name!r}"
    assert {"apex_route_requests_total", "apex_route_responses_total", "apex_route_duration_seconds_bucket"} <= used
    # the security row plots the series docs/security.md promises it does
    assert {"apex_workload_certificate_expiry_seconds", "apex_mtls_accepted_total", "apex_mtls_rejected_total",
            "apex_tls_handshake_failures_total", "apex_tls_outbound_handshake_failures_total",
            "apex_jwks_fetch_errors_total", "apex_oauth2_token_fetch_errors_total"} <= used  # fmt: skip


def test_dashboard_is_well_formed() -> None:
    dash = dashboard()
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    defined = {v["name"] for v in dash["templating"]["list"]}
    for where, expr in queries():
        for var in re.findall(r"\$(\w+)", expr):
            assert var in defined or f"${var}" in GRAFANA_VARS, f"{where}: undefined variable ${var}"
    for panel in dash["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["type"] == "row" or panel["datasource"]["uid"] == "${datasource}"


# --- Prometheus scrape configs -----------------------------------------------------------------


def sidecar_metrics_port(config: dict[str, Any]) -> int:
    return int(config["metrics"]["address"].rsplit(":", 1)[1])


def test_kubernetes_scrape_config_keeps_the_annotated_sidecars_on_their_metrics_port() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["apex-mesh"]
    # the sidecars bind metrics off loopback with a token: Prometheus sends it from the Secret apex-metrics
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/secrets/apex-metrics/token"}
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert keep == [{"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                     "action": "keep", "regex": "true"}]  # fmt: skip
    assert {r["target_label"] for r in job["relabel_configs"] if "target_label" in r} >= {
        "__address__", "__metrics_path__", "namespace", "pod", "service"}  # fmt: skip
    address = next(r for r in job["relabel_configs"] if r.get("target_label") == "__address__")
    assert re.sub(address["regex"], address["replacement"].replace("$", "\\"), f"10.0.0.7:15006;{METRICS_PORT}") == (
        f"10.0.0.7:{METRICS_PORT}"
    )
    scraped = 0
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        configs = {d["metadata"]["name"]: yaml.safe_load(d["data"]["sidecar.yaml"]) for d in docs
                   if d["kind"] == "ConfigMap" and "sidecar.yaml" in d["data"]}  # fmt: skip
        for dep in (d for d in docs if d["kind"] == "Deployment"):
            pod = dep["spec"]["template"]
            notes = pod["metadata"].get("annotations", {})
            if notes.get("prometheus.io/scrape") != "true":
                continue
            scraped += 1
            port = int(notes["prometheus.io/port"])
            assert notes["prometheus.io/path"] == "/metrics"
            sidecar = next(c for c in pod["spec"]["containers"] if c["name"] == "apex-sidecar")
            assert {"name": "metrics", "containerPort": port} in sidecar["ports"], f"{path.name}: port not declared"
            (volume,) = [v for v in pod["spec"]["volumes"] if "configMap" in v]
            assert sidecar_metrics_port(configs[volume["configMap"]["name"]]) == port, f"{path.name}: config"
            assert configs[volume["configMap"]["name"]]["metrics"]["token"] == {"env": "APEX_METRICS_TOKEN"}
            secret = next(e["valueFrom"]["secretKeyRef"] for e in sidecar["env"] if e["name"] == "APEX_METRICS_TOKEN")
            assert secret == {"name": "apex-metrics", "key": "token"}, f"{path.name}: metrics token"
    assert scraped == 2  # echo and frontend


def test_compose_scrape_config_names_the_compose_services_and_their_metrics_port() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus-compose.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]
    (job,) = prom["scrape_configs"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/apex-metrics-token"}
    assert sorted(targets) == ["echo-1:9102", "echo-2:9102", "frontend:9102"]
    for target in targets:
        host, port = target.split(":")
        sidecar = compose[f"{host}-sidecar"]
        assert sidecar["network_mode"] == f"service:{host}"  # reached by the app's name
        (mount,) = sidecar["volumes"]
        config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
        assert sidecar_metrics_port(config) == int(port)
        assert config["metrics"]["token"] == {"env": "APEX_METRICS_TOKEN"}
        assert sidecar["environment"]["APEX_METRICS_TOKEN"]  # compose sets it (a local default)


# --- Kubernetes schemas ------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] != "Kustomization":  # kustomize's own file, not an API object
                out.append((f"{path.name}: {doc['kind']} {doc['metadata'].get('name', '')}", doc))
    return out


@pytest.mark.parametrize(("where", "doc"), k8s_documents(), ids=[w for w, _ in k8s_documents()])
def test_manifest_validates_against_the_kubernetes_schema(where: str, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{where}: {exc.message} at {'.'.join(map(str, exc.path))}") from None


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The check is live: a wrong type and an unknown field in a real manifest both fail."""
    _, deployment = next((w, d) for w, d in k8s_documents() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    unknown = json.loads(json.dumps(deployment))
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, K8S_VERSION, strict=True)
