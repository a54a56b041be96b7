"""Run `apex control-plane` as a real subprocess for integration tests; restart it on the same port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import grpc
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc, echo_pb2, echo_pb2_grpc

APEX = [sys.executable, "-m", "sidecar"]


class ControlPlaneProcess:
    def __init__(self, redis_url: str, prefix: str | None = None, args: list[str] | None = None) -> None:
        self.redis_url = redis_url
        self.prefix = prefix or f"apex:test:{uuid.uuid4().hex[:8]}:"
        self.args = list(args or [])
        self._dir = tempfile.TemporaryDirectory(prefix="apex-cp-")
        self.ports_path = Path(self._dir.name) / "ports.json"
        self.log_path = Path(self._dir.name) / "cp.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.listen = "127.0.0.1:0"
        self._channel: grpc.Channel | None = None

    def start(self, timeout: float = 20.0) -> ControlPlaneProcess:
        self.ports_path.unlink(missing_ok=True)
        log = self.log_path.open("ab")
        cmd = [*APEX, "control-plane", "--listen", self.listen, "--redis", self.redis_url, "--prefix", self.prefix]
        if "--auth" not in self.args:
            cmd.append("--insecure")  # tests that do not exercise authentication run the open mode
        cmd += [*self.args, "--ports-file", str(self.ports_path)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        deadline = time.monotonic() + timeout
        while not self.ports_path.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"control plane exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"control plane not ready within {timeout}s:\n{self.log()}")
            time.sleep(0.02)
        self.address = json.loads(self.ports_path.read_text())["control_plane"]
        self.listen = self.address  # a restart binds the same port
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0, kill: bool = False) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> ControlPlaneProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- PolicyAdmin --------------------------------------------------------------------------

    def admin(self) -> tuple[grpc.Channel, control_pb2_grpc.PolicyAdminStub]:
        channel = grpc.insecure_channel(self.address)
        return channel, control_pb2_grpc.PolicyAdminStub(channel)

    @property
    def stub(self) -> control_pb2_grpc.PolicyAdminStub:
        """A PolicyAdmin stub on one reused channel (polling with a new channel per call is costly)."""
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.address)
        return control_pb2_grpc.PolicyAdminStub(self._channel)

    def set_policy(
        self, service: str, policy: config_pb2.Policy, expected: int, reason: str = "test", percent: float = 100.0
    ) -> control_pb2.PolicyRecord:
        change = control_pb2.Change(author="test", reason=reason, expected_version=expected, rollout_percent=percent)
        request = control_pb2.SetPolicyRequest(service=service, policy=policy, change=change)
        return self.stub.SetPolicy(request, timeout=10)

    def instances(self, service: str = "") -> list[control_pb2.InstanceStatus]:
        request = control_pb2.ListInstancesRequest(service=service)
        return list(self.stub.ListInstances(request, timeout=10).instances)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy; return it, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Traffic:
    """Unary Echo calls in a loop through `address` on a thread; counts successes and failures."""

    def __init__(self, address: str, pause: float = 0.005) -> None:
        self.address = address
        self.pause = pause
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with grpc.insecure_channel(self.address) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            while not self._stop.is_set():
                try:
                    stub.Unary(echo_pb2.EchoRequest(tag="traffic"), timeout=5)
                    self.ok += 1
                except grpc.RpcError as exc:
                    self.failed.append(f"{exc.code().name}: {exc.details()}")
                time.sleep(self.pause)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
