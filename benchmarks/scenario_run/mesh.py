"""The real processes of a scenario run: Redis, the control plane, one upstream per endpoint, sidecars.

`Mesh(work_dir)` starts Redis and the control plane once (`start()`); each run then gets fresh
upstreams and fresh sidecars (instances of one service, the load split between them) under its own
service name (`start_run`), so runs do not share queues, caches, telemetry streams or policy
history. The sidecar joins the control plane (it applies pushed versions and ACKs them) after the
run's first policy is stored there as an operator change. Every process is started by the
`Supervisor` and stopped by PID, in reverse order.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import yaml
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc, echo_pb2
from google.protobuf import json_format

from sidecar.config.yaml_proto import fill
from sidecar.demo.procs import Proc, Supervisor
from sidecar.support.redis_server import RedisServer, free_port


class Mesh:
    def __init__(self, work: Path, redis_url: str | None = None) -> None:
        self.work = work
        self.sup = Supervisor(work)
        self.redis_url = redis_url or ""
        self._redis: RedisServer | None = None
        self.control_plane = ""
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self.run_procs: list[Proc] = []
        self._upstreams: list[tuple[Path, Proc]] = []

    # -- shared: Redis and the control plane ---------------------------------------------------
    def start(self) -> Mesh:
        if not self.redis_url:
            self._redis = RedisServer().start()
            self.redis_url = self._redis.url
        ports = self.work / "control-plane.json"
        proc = self.sup.start_python(
            "control-plane",
            "sidecar",
            "control-plane",
            "--listen",
            "127.0.0.1:0",
            "--redis",
            self.redis_url,
            "--ports-file",
            str(ports),
            "--log-level",
            "WARNING",
            "--insecure",
        )  # fmt: skip  (local, one machine)
        self.control_plane = self.sup.wait_for_file(proc, ports)["control_plane"]
        self._channel = grpc.insecure_channel(self.control_plane)
        self._stub = control_pb2_grpc.PolicyAdminStub(self._channel)
        return self

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self.sup.stop_all()
        if self._redis is not None:
            self._redis.close()

    # -- policy through the control plane ------------------------------------------------------
    def set_policy(self, service: str, policy: dict[str, Any], *, reason: str, author: str,
                   source: control_pb2.ChangeSource.ValueType = control_pb2.OPERATOR) -> int:  # fmt: skip
        """Store a new version (compare-and-set on the latest); the service's sidecars get it pushed."""
        current = self.version(service)
        change = control_pb2.Change(author=author, reason=reason, source=source, expected_version=current)
        msg = fill(config_pb2.Policy(), policy)
        record = self._stub.SetPolicy(control_pb2.SetPolicyRequest(service=service, policy=msg, change=change),
                                      timeout=10)  # fmt: skip
        return int(record.version)

    def version(self, service: str) -> int:
        try:
            record = self._stub.GetPolicy(control_pb2.GetPolicyRequest(service=service), timeout=10)
        except grpc.RpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return 0
            raise
        return int(record.version)

    def policy(self, service: str) -> dict[str, Any]:
        record = self._stub.GetPolicy(control_pb2.GetPolicyRequest(service=service), timeout=10)
        out: dict[str, Any] = json_format.MessageToDict(record.policy, preserving_proto_field_name=True)
        return out

    def history(self, service: str) -> list[Any]:
        records: list[Any] = []
        token = ""
        while True:
            resp = self._stub.History(control_pb2.HistoryRequest(service=service, page_size=100, page_token=token),
                                      timeout=10)  # fmt: skip
            records += resp.records
            token = resp.next_page_token
            if not token:
                return records

    # -- one run: upstreams and a sidecar ----------------------------------------------------------
    def start_run(self, service: str, scenario_file: str, endpoints: int, time_scale: float, rate_scale: float,
                  seed: int) -> tuple[list[str], Path]:  # fmt: skip
        """Start the run's upstreams on free ports (not waiting: `wait_upstreams`); their addresses and the
        start file (written by `write_start`)."""
        run_dir = self.work / service
        run_dir.mkdir(parents=True, exist_ok=True)
        start_file = run_dir / "start"
        addresses = []
        self._upstreams = []
        for i in range(endpoints):
            ports = run_dir / f"endpoint-{i}.json"
            port = free_port()
            addresses.append(f"127.0.0.1:{port}")
            proc = self.sup.start_python(
                f"{service}-endpoint-{i}", "benchmarks.scenario_run.upstream", "--scenario", scenario_file,
                "--index", str(i), "--port", str(port), "--ports-file", str(ports), "--start-file", str(start_file),
                "--time-scale", repr(time_scale), "--rate-scale", repr(rate_scale), "--seed", str(seed),
            )  # fmt: skip
            self._upstreams.append((ports, proc))
            self.run_procs.append(proc)
        return addresses, start_file

    def wait_upstreams(self) -> None:
        for ports, proc in self._upstreams:
            self.sup.wait_for_file(proc, ports)

    def start_sidecars(self, service: str, policy: dict[str, Any], count: int) -> list[dict[str, str]]:
        """Store `policy` as the service's first version, then start `count` sidecars joined to the control plane."""
        self.set_policy(service, policy, reason="apex tune scenario: the run's starting policy",
                        author="apex tune scenario")  # fmt: skip
        procs = [self._sidecar(service, policy, i) for i in range(count)]
        return [self.sup.wait_for_file(proc, ports) for proc, ports in procs]

    def _sidecar(self, service: str, policy: dict[str, Any], index: int) -> tuple[Proc, Path]:
        run_dir = self.work / service
        name = f"{service}-{index + 1}"
        config = {
            "node": {"service": service, "instance": name},
            "admin": {"address": "127.0.0.1:0"},
            "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND"}],
            "policy": policy,
        }
        path = run_dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        ports = run_dir / f"{name}-ports.json"
        proc = self.sup.start_python(f"{name}-sidecar", "sidecar", "sidecar", "--config", str(path),
                                     "--ports-file", str(ports), "--log-level", "WARNING", "--redis", self.redis_url,
                                     "--control-plane", self.control_plane,
                                     "--last-good", str(run_dir / f"{name}.binpb"))  # fmt: skip
        self.run_procs.append(proc)
        return proc, ports

    def warm(self, address: str, cacheable: bool, timeout: float = 30.0) -> None:
        """Call through the sidecar until a call succeeds (the sidecar knows Echo/Unary is unary)."""
        request = echo_pb2.EchoRequest(payload=b"0" if cacheable else b"").SerializeToString()
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary("/apex.mesh.v1.Echo/Unary")
            ok = 0
            while ok < 5:
                try:
                    call(request, timeout=2)
                    ok += 1
                except grpc.RpcError as exc:
                    if time.monotonic() > deadline or self.sup.dead():
                        raise RuntimeError(f"the run's mesh did not answer: {exc}; logs in {self.work}") from None
                    time.sleep(0.1)

    def stop_run(self) -> None:
        """Stop the run's sidecar and upstreams (by PID), keep Redis and the control plane."""
        keep = [p for p in self.sup.procs if p not in self.run_procs]
        stopping = Supervisor(self.work)
        stopping.procs = self.run_procs
        stopping.stop_all(grace=5.0)
        self.sup.procs = keep
        self.run_procs = []

    def start_engine(self, name: str, args: list[str]) -> Proc:
        """Start an engine process (the tuner) for this run; stopped with the run."""
        proc = self.sup.start(name, [sys.executable, "-m", "sidecar", *args])
        self.run_procs.append(proc)
        return proc

    def dead(self) -> list[str]:
        return [p.name for p in self.sup.dead()]


def write_start(start_file: Path, t0: float) -> None:
    tmp = start_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(t0))
    tmp.rename(start_file)
