"""The container and Kubernetes files parse and agree with each other and with the code.

Docker does not run here, so these tests read the files: YAML parse of the compose file and the
manifests, a lint-level Dockerfile check, every `apex ...` command parsed by the real CLI, every
sidecar config validated by the real bootstrap loader (with the container's APEX_* environment),
and the addresses the apps dial matched against the listeners their sidecars open.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sidecar.cli import build_parser, sidecar_cmd
from sidecar.cli.env import SIDECAR_ENV

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SIDECAR_IMAGE = f"apex-mesh/sidecar:{VERSION}"
ENGINES_IMAGE = f"apex-mesh/engines:{VERSION}"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
    "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def check_apex(argv: list[str]) -> argparse.Namespace:
    """Parse `apex <argv>` with the real CLI; a command the files name must exist (no skipping)."""
    assert argv[0] in commands(), f"`apex {argv[0]}` is named in the deploy files but the CLI has no such command"
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        raise AssertionError(f"`apex {' '.join(argv)}` does not parse") from None


def check_python_module(argv: list[str]) -> None:
    assert argv[:2] == ["python", "-m"], argv
    assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]}"


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def load_sidecar(config_file: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """What `apex sidecar` would run with in that container: env applied, file loaded and validated."""
    for variable in SIDECAR_ENV.values():
        monkeypatch.delenv(variable, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("APEX_CONFIG", str(config_file))
    args = build_parser().parse_args(["sidecar"])
    config, model, _ = sidecar_cmd.load(args)
    return config, model


def listener(model: Any, direction: str) -> Any:
    found = [lis for lis in model.listeners if lis.direction.value.upper() == direction]
    assert found, f"no {direction} listener"
    return found[0]


def port_of(address: str) -> int:
    return int(str(address).rpartition(":")[2])


# --- Dockerfiles ----------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


DOCKERFILES = {"Dockerfile": ["sidecar"], "Dockerfile.engines": ["control-plane", "--listen", "0.0.0.0:7700"]}


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_lint(name: str) -> None:
    steps = instructions(ROOT / name)
    unknown = [k for k, _ in steps if k not in INSTRUCTIONS]
    assert not unknown, f"{name}: unknown instructions {unknown}"
    assert next(k for k, _ in steps if k != "ARG") == "FROM", f"{name}: must start with FROM"
    stages = [rest.split() for k, rest in steps if k == "FROM"]
    named = {parts[2] for parts in stages if len(parts) == 3 and parts[1].upper() == "AS"}
    for keyword, rest in steps:
        if keyword == "COPY" and rest.startswith("--from="):
            assert rest.split()[0].removeprefix("--from=") in named, f"{name}: COPY from an unknown stage"
        if keyword in ("ENTRYPOINT", "CMD"):
            assert isinstance(json.loads(rest), list), f"{name}: {keyword} must use the exec (JSON) form"
    users = [rest for k, rest in steps if k == "USER"]
    assert users and users[-1] not in ("0", "root"), f"{name}: the runtime stage must not run as root"
    assert ("STOPSIGNAL", "SIGTERM") in steps


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_copies_existing_paths(name: str) -> None:
    for keyword, rest in instructions(ROOT / name):
        if keyword != "COPY" or rest.startswith("--from="):
            continue
        for source in rest.split()[:-1]:
            assert (ROOT / source).exists(), f"{name}: COPY {source}: no such path"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_command_parses(name: str) -> None:
    steps = dict(instructions(ROOT / name))
    argv = json.loads(steps["ENTRYPOINT"]) + (json.loads(steps["CMD"]) if "CMD" in steps else [])
    assert argv[0] == "apex" and argv[1:] == DOCKERFILES[name]
    check_apex(argv[1:])


def test_sidecar_image_exposes_the_ports_and_health_checks_the_admin_port() -> None:
    steps = instructions(ROOT / "Dockerfile")
    exposed = {int(p) for k, rest in steps if k == "EXPOSE" for p in rest.split()}
    assert exposed == {15001, 15006, 9901}
    env = " ".join(rest for k, rest in steps if k == "ENV")
    assert "APEX_ADMIN=0.0.0.0:9901" in env and "APEX_CONFIG=/etc/apex/sidecar.yaml" in env
    health = next(rest for k, rest in steps if k == "HEALTHCHECK")
    args = check_apex(json.loads(health.partition("CMD")[2].strip())[1:])
    assert args.command == "admin" and args.what == "health" and port_of(args.admin) == 9901


# --- docker-compose.yaml --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    assert isinstance(data, dict) and isinstance(data["services"], dict)
    return data["services"]


def test_compose_references_exist(compose: dict[str, Any]) -> None:
    for name, svc in compose.items():
        assert "image" in svc, name
        assert svc["image"] in (SIDECAR_IMAGE, ENGINES_IMAGE) or not svc["image"].startswith("apex-mesh/"), name
        if "build" in svc:
            assert (ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).exists(), name
        depends = svc.get("depends_on", [])
        for other in depends if isinstance(depends, list) else list(depends):
            assert other in compose, f"{name} depends on unknown {other}"
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.removeprefix("service:") in compose, name
        for volume in svc.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (ROOT / host).exists(), f"{name}: {host} does not exist"


def test_compose_commands_parse(compose: dict[str, Any]) -> None:
    for svc in compose.values():
        if svc["image"] == SIDECAR_IMAGE and "entrypoint" in svc:
            check_python_module(svc["entrypoint"])
        elif svc["image"] == ENGINES_IMAGE:
            check_apex(svc["command"])


def test_compose_sidecars_load_and_wire_up(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    sidecars = {n: s for n, s in compose.items() if s["image"] == SIDECAR_IMAGE and "entrypoint" not in s}
    assert {"echo-1-sidecar", "echo-2-sidecar", "frontend-sidecar"} <= set(sidecars)
    for name, svc in sidecars.items():
        app_name = svc["network_mode"].removeprefix("service:")
        app = compose[app_name]["entrypoint"]
        host_file = next(ROOT / v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == "/etc/apex/sidecar.yaml")
        assert svc["environment"]["APEX_CONFIG"] == "/etc/apex/sidecar.yaml"
        config, model = load_sidecar(host_file, {k: str(v) for k, v in svc["environment"].items()}, monkeypatch)
        assert config.admin.address == svc["environment"]["APEX_ADMIN"] == "0.0.0.0:9901"
        assert config.node.service == svc["environment"]["APEX_SERVICE"]
        assert svc["healthcheck"]["test"][:3] == ["CMD", "apex", "admin"]
        health = check_apex(svc["healthcheck"]["test"][2:])
        assert port_of(health.admin) == port_of(config.admin.address) and health.what == "health"
        if app[2] == "sidecar.examples.echo":
            local = model.policy.clusters[0].endpoints[0].address
            assert port_of(local) == int(flag(app, "--port") or 0), f"{name} forwards to the wrong app port"
            assert port_of(listener(model, "INBOUND").address) == 15006
        else:
            # the app dials its sidecar's outbound listener, naming the service the route matches
            assert flag(app, "--target") == str(listener(model, "OUTBOUND").address)
            route = model.policy.route_tables[0].routes[0]
            assert route.match.authority == flag(app, "--authority")
            for endpoint in next(c for c in model.policy.clusters if c.name == route.cluster).endpoints:
                host = str(endpoint.address).rpartition(":")[0]
                assert f"{host}-sidecar" in sidecars and port_of(endpoint.address) == 15006


def test_compose_env_points_at_real_services(compose: dict[str, Any]) -> None:
    for name, svc in compose.items():
        env = svc.get("environment", {})
        if "APEX_REDIS_URL" in env:
            assert env["APEX_REDIS_URL"].startswith("redis://redis:6379"), name
        if "APEX_CONTROL_PLANE" in env:
            host, _, port = env["APEX_CONTROL_PLANE"].partition(":")
            assert host in compose and flag(compose[host]["command"], "--listen") == f"0.0.0.0:{port}", name


# --- Kubernetes manifests -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    for name in listed:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc is not None:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{name}: incomplete object"
                if doc["kind"] != "Namespace":
                    assert doc["metadata"]["namespace"] == "apex-mesh", f"{name}: {doc['metadata']['name']}"
                docs.append(doc)
    return docs


def _kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_k8s_services_select_pods_and_named_ports(manifests: list[dict[str, Any]]) -> None:
    deployments = _kind(manifests, "Deployment")
    for name, svc in _kind(manifests, "Service").items():
        pods = [
            d["spec"]["template"]
            for d in deployments.values()
            if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert pods, f"Service {name} selects no pods"
        ports = {p.get("name") for c in pods[0]["spec"]["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name}: no container port {port['targetPort']}"
    for name, dep in deployments.items():
        assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        for container in dep["spec"]["template"]["spec"]["containers"]:
            assert container["image"] in (SIDECAR_IMAGE, ENGINES_IMAGE, "redis:7-alpine"), name


def _service_port(manifests: list[dict[str, Any]], address: str) -> bool:
    host, _, port = address.partition(":")
    svc = _kind(manifests, "Service").get(host)
    return svc is not None and any(p["port"] == int(port) for p in svc["spec"]["ports"])


def test_k8s_pods_run_the_sidecar_as_a_second_container(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_maps = _kind(manifests, "ConfigMap")
    checked = 0
    for name, dep in _kind(manifests, "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        sidecars = [c for c in pod["containers"] if c["image"] == SIDECAR_IMAGE and "command" not in c]
        if not sidecars:
            continue
        assert len(pod["containers"]) == 2, f"{name}: app + sidecar"
        sidecar = sidecars[0]
        app = next(c for c in pod["containers"] if c is not sidecar)
        check_python_module(app["command"])
        env = {e["name"]: e["value"] for e in sidecar["env"] if "value" in e}  # valueFrom: Secrets
        mount = next(m for m in sidecar["volumeMounts"] if env["APEX_CONFIG"].startswith(m["mountPath"] + "/"))
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        text = config_maps[volume["configMap"]["name"]]["data"][Path(env["APEX_CONFIG"]).name]
        (tmp_path / f"{name}.yaml").write_text(text)
        config, model = load_sidecar(tmp_path / f"{name}.yaml", env, monkeypatch)
        admin = port_of(config.admin.address)
        assert sidecar["readinessProbe"]["grpc"]["port"] == admin == sidecar["livenessProbe"]["grpc"]["port"]
        assert _service_port(manifests, env["APEX_CONTROL_PLANE"])
        assert _service_port(manifests, env["APEX_REDIS_URL"].removeprefix("redis://").partition("/")[0])
        ports = {p["containerPort"] for p in sidecar["ports"]}
        for lis in model.listeners:
            if not str(lis.address).startswith("127.0.0.1:"):
                assert port_of(lis.address) in ports, f"{name}: listener {lis.name} port not declared"
        app_env = {e["name"]: e.get("value") for e in app.get("env", [])}
        if "ECHO_TARGET" in app_env:  # an app that calls out: through its own sidecar
            assert app_env["ECHO_TARGET"] == str(listener(model, "OUTBOUND").address)
            route = model.policy.route_tables[0].routes[0]
            assert route.match.authority == app_env["ECHO_AUTHORITY"]
            for cluster in model.policy.clusters:
                for endpoint in cluster.endpoints:
                    assert _service_port(manifests, str(endpoint.address)), f"{name}: {endpoint.address}"
        else:
            local = model.policy.clusters[0].endpoints[0].address
            assert port_of(local) == int(flag(app["command"], "--port") or 0)
        checked += 1
    assert checked == 2


def test_k8s_engines_run_the_control_plane(manifests: list[dict[str, Any]]) -> None:
    engines = _kind(manifests, "Deployment")["engines"]["spec"]["template"]["spec"]["containers"][0]
    assert engines["image"] == ENGINES_IMAGE
    env = {e["name"]: e["value"] for e in engines["env"]}
    assert _service_port(manifests, env["APEX_REDIS_URL"].removeprefix("redis://").partition("/")[0])
    check_apex(engines["args"])
