"""The demo's credentials: random tokens in 0600 files, the control plane's tokens file naming them by
reference, what each process is given — a file path, never a token (docs/security.md) — and the wait
for every sidecar's certificate from the control plane's CA.

- a join token per service (its sidecars register with it and get their certificates for it);
- a token per engine (the forecaster and the tuner: the audit records their principals);
- an operator token for the demo's own calls (seeding the frontend's policy, reading the audit).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from apex.mesh.security.secrets import TOKEN_FILE_ENV, bearer, resolve
from apex.mesh.v1 import security_admin_pb2, security_admin_pb2_grpc

SERVICES = ("frontend", "catalog", "pricing")
ENGINES = ("forecaster", "tuner")
REALM = "apex-demo"  # engine and operator principals are NAME@apex-demo: the audit shows they were authenticated
OPERATOR = f"operator@{REALM}"
TRUST_DOMAIN = "cluster.local"
NAMESPACE = "default"


def spiffe_id(service: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/{service}"


def engine_principal(engine: str) -> str:
    return f"{engine}@{REALM}"


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")


@dataclass
class DemoSecrets:
    """Token files under `root` (0700), and `tokens.yaml` for `apex control-plane --auth`."""

    root: Path
    join: dict[str, Path] = field(default_factory=dict)  # service -> its join token's file
    engines: dict[str, Path] = field(default_factory=dict)  # engine -> its token's file
    operator: Path = Path()
    tokens_file: Path = Path()

    @classmethod
    def create(cls, work: Path) -> DemoSecrets:
        root = work / "secrets"
        root.mkdir(mode=0o700)
        out = cls(root)
        for service in SERVICES:
            out.join[service] = root / f"join-{service}"
        for engine in ENGINES:
            out.engines[engine] = root / f"engine-{engine}"
        out.operator = root / "operator"
        for path in (*out.join.values(), *out.engines.values(), out.operator):
            _write_secret(path, secrets.token_hex(24))
        tokens = {
            "sidecars": {s: {"file": str(p)} for s, p in out.join.items()},
            "operators": {OPERATOR: {"file": str(out.operator)}},
            "engines": {engine_principal(e): {"file": str(p)} for e, p in out.engines.items()},
        }
        out.tokens_file = root / "tokens.yaml"
        out.tokens_file.write_text(yaml.safe_dump(tokens, sort_keys=False))
        return out

    def control_plane_args(self, ca_dir: Path) -> list[str]:
        return ["--auth", str(self.tokens_file), "--ca-dir", str(ca_dir)]

    def engine_env(self, engine: str) -> dict[str, str]:
        """The engine's environment: where its token is ($APEX_TOKEN_FILE), not the token."""
        return {TOKEN_FILE_ENV: str(self.engines[engine])}

    def sidecar_security(self, service: str) -> dict[str, Any]:
        """The sidecar's `security` section: its identity comes from the control plane's CA."""
        return {"trust_domain": TRUST_DOMAIN, "namespace": NAMESPACE, "join_token": {"file": str(self.join[service])}}

    def operator_metadata(self) -> tuple[tuple[str, str], ...] | None:
        """gRPC metadata for the demo's own control-plane calls (the token is registered for redaction)."""
        return bearer(resolve({"file": str(self.operator)}))


def wait_for_certificates(
    admins: Mapping[str, str], dead: Callable[[], bool], logs: Path, timeout: float = 30.0
) -> None:
    """Wait until every sidecar (instance -> admin address) holds a certificate from the CA (generation
    > 0 in `apex admin security`); RuntimeError naming the first that has none after `timeout`."""
    deadline = time.monotonic() + timeout
    for instance, admin in admins.items():
        with grpc.insecure_channel(admin) as channel:
            stub = security_admin_pb2_grpc.SecurityAdminStub(channel)
            while True:
                with contextlib.suppress(grpc.RpcError):
                    reply = stub.GetSecurity(security_admin_pb2.GetSecurityRequest(), timeout=2)
                    if reply.certificate.generation > 0:
                        break
                if time.monotonic() > deadline or dead():
                    raise RuntimeError(f"{instance} got no certificate from the control plane's CA; logs in {logs}")
                time.sleep(0.2)
