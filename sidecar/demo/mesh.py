"""The demo's mesh: start Redis, the control plane (secured unless --insecure), the shop's services with
their sidecars, the forecaster and the tuner; follow the timeline's incident; stop every process."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import yaml
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc, shop_pb2, shop_pb2_grpc

from sidecar.config.yaml_proto import fill
from sidecar.demo import observe, panels, secure, topology
from sidecar.demo.engines_view import EnginesView
from sidecar.demo.procs import Proc, Supervisor
from sidecar.demo.secure import DemoSecrets
from sidecar.demo.timeline import Timeline
from sidecar.demo.topology import MAIN_SERVICE
from sidecar.security.status import SecurityStatus
from sidecar.support.redis_server import RedisServer, free_port

Ready = Callable[[], observe.SidecarView]  # waits until a started sidecar is up
# What the tuner may move on the frontend's outbound routes and clusters (the forecaster owns cache TTLs).
TUNED = ("concurrency", "eject_after", "attempts", "retry_budget")


class Demo:
    def __init__(
        self, work: Path, timeline: Timeline, peak: float, redis_url: str | None, insecure: bool = False
    ) -> None:
        self.work = work
        # Secured (the default): tokens in 0600 files, the control plane with --auth and its CA, mTLS
        # between the sidecars; None with --insecure (the old, unauthenticated mesh).
        self.secrets = None if insecure else DemoSecrets.create(work)
        self.operator = None if self.secrets is None else self.secrets.operator_metadata()
        self.timeline = timeline
        self.period = timeline.period
        self.peak = peak
        self.sup = Supervisor(work)
        self.incident_proc: Proc | None = None  # the catalog instance the timeline's incident happens to
        self.incident_on = False
        self.incidents: list[tuple[float, str]] = []  # (seconds into the load, what the demo did)
        self.redis_url = redis_url
        self.redis_server: RedisServer | None = None
        self.control_plane = ""
        self.sidecars: list[observe.SidecarView] = []
        self.frontend_address = ""
        self.history: dict[str, list[Any]] = {"t": [], "offered": [], "rows": []}
        self.actions: list[str] = []
        self.audit: dict[tuple[str, int], tuple[int, str]] = {}  # (service, version) -> (time, the change)
        self.engines: EnginesView | None = None
        self.tuner_note = ""  # why the tuner panel may stay empty
        self.strategy_proc: subprocess.Popen[str] | None = None  # `apex tune strategy set`, while it runs
        self.peers: list[tuple[str, SecurityStatus | None]] = []  # each sidecar's security status, last read
        self.authors: dict[str, set[str]] = {}  # engine -> the audit authors of its changes

    # --- start-up ---------------------------------------------------------------------------

    def _control_plane(self) -> None:
        ports_file = self.work / "control-plane-ports.json"
        args = ["control-plane", "--listen", "127.0.0.1:0", "--redis", self.redis_url or "",
                "--ports-file", str(ports_file), "--log-level", "WARNING"]  # fmt: skip
        args += ["--insecure"] if self.secrets is None else self.secrets.control_plane_args(self.work / "ca")
        proc = self.sup.start_python("control-plane", "sidecar", *args)
        self.control_plane = self.sup.wait_for_file(proc, ports_file)["control_plane"]

    def _seed(self, service: str, config: dict[str, Any]) -> None:
        """Store the service's first policy (as an operator) so the engines have one to tune."""
        policy = fill(config_pb2.Policy(), config["policy"])
        change = control_pb2.Change(
            author="demo", reason="demo start: the bootstrap policy", source=control_pb2.OPERATOR, expected_version=0
        )
        with grpc.insecure_channel(self.control_plane) as channel:
            stub = control_pb2_grpc.PolicyAdminStub(channel)
            request = control_pb2.SetPolicyRequest(service=service, policy=policy, change=change)
            stub.SetPolicy(request, timeout=10, metadata=self.operator)

    def _sidecar(self, instance: topology.Instance, config: dict[str, Any], managed: bool) -> Ready:
        """Start a sidecar; the returned call waits until it is up (several start at once)."""
        path = self.work / f"{instance.name}-sidecar.yaml"
        if managed:  # in the file: `apex sidecar` validates it (mTLS from the CA needs a control plane) before flags
            config = {**config, "control_plane": self.control_plane}
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        ports_file = self.work / f"{instance.name}-ports.json"
        args = ["sidecar", "--config", str(path), "--ports-file", str(ports_file), "--log-level", "WARNING",
                "--redis", self.redis_url or ""]  # fmt: skip
        if managed:  # joins the control plane: takes pushes, reports applied versions (and asks its CA)
            args += ["--control-plane", self.control_plane, "--last-good", str(self.work / f"{instance.name}.binpb")]
        proc = self.sup.start_python(f"{instance.name}-sidecar", "sidecar", *args)

        def ready() -> observe.SidecarView:
            sc = observe.SidecarView(instance.service, instance.name, self.sup.wait_for_file(proc, ports_file))
            self.sidecars.append(sc)
            return sc

        return ready

    def start(self) -> None:
        if self.redis_url is None:
            self.redis_server = RedisServer().start()
            self.redis_url = self.redis_server.url
        self._control_plane()
        # Everything that needs nothing else starts at once (their start-up is mostly Python imports).
        strategy = self._tuner_strategy()
        self._forecaster()
        waits = []
        for inst in topology.INSTANCES:
            if inst.service == "frontend":
                continue
            port = free_port()
            proc = self.sup.start_python(inst.name, "sidecar.examples.shop", inst.role, "--port", str(port),
                                         "--name", inst.name, *inst.args)  # fmt: skip
            if inst.name == topology.INCIDENT_INSTANCE:
                self.incident_proc = proc
            security = None if self.secrets is None else self.secrets.sidecar_security(inst.service)
            # Secured, a backend sidecar joins the control plane for its certificate. No policy is stored
            # for catalog or pricing, so none is pushed: each keeps its bootstrap policy, as before.
            config = topology.backend_sidecar(inst, port, security)
            waits.append(self._sidecar(inst, config, managed=security is not None))
        inbound: dict[str, list[str]] = {"catalog": [], "pricing": []}
        for wait in waits:
            sc = wait()
            inbound[sc.service].append(sc.ports["inbound"])
        front = next(i for i in topology.INSTANCES if i.service == "frontend")
        port = free_port()
        security = None if self.secrets is None else self.secrets.sidecar_security("frontend")
        config = topology.frontend_sidecar(port, inbound["catalog"], inbound["pricing"], security)
        self._seed("frontend", config)
        sc = self._sidecar(front, config, managed=True)()
        self.sup.start_python(front.name, "sidecar.examples.shop", "frontend", "--port", str(port),
                              "--sidecar", sc.ports["outbound"])  # fmt: skip
        self.frontend_address = sc.ports["inbound"]
        self._tuner(strategy)
        self._wait_certificates()
        self._wait_serving()

    def _forecaster(self) -> None:
        """The forecasting engine, at a demo's scale: 1 s points, forecasts 20 s ahead every second. It sees
        four compressed days (at most the 900 one-second points it keeps) and re-selects its models once a
        day, so the day is found as a period once three have passed."""
        history = min(900, max(240, round(4 * self.period)))
        self.sup.start_python("forecaster", "sidecar", "forecaster", "--redis", self.redis_url or "",
                              "--control-plane", self.control_plane, "--horizon", "20", "--ratio", "1.3",
                              "--history", str(history), "--reselect-every", str(max(30.0, self.period)),
                              "--min-rate", "5", "--cooldown", str(max(10.0, self.period / 3)),
                              "--resolution", "1", "--min-points", "10", "--evaluate-every", "1",
                              "--snapshot-every", "2", env=self._engine_env("forecaster"))  # fmt: skip

    def _engine_env(self, engine: str) -> dict[str, str] | None:
        """Where the engine's control-plane token is ($APEX_TOKEN_FILE), when secured."""
        return None if self.secrets is None else self.secrets.engine_env(engine)

    def _tuner_strategy(self) -> subprocess.Popen[str] | None:
        """`apex tune strategy set` for the frontend: the balanced preset (a parameter moves at most every
        15 s, each change a 5 s canary) on TUNED, SLO 50 ms. None when this build has no tuner."""
        if importlib.util.find_spec("engines.tune.runner") is None:
            self.tuner_note = "no tuner in this build (apex tuner): showing tune.* events from the events stream"
            return None
        argv = [sys.executable, "-m", "sidecar", "tune", "strategy", "set", "--service", MAIN_SERVICE,
                "--preset", "balanced", "--slo", "50ms", "--redis", self.redis_url or "",
                *(f"--param={p}" for p in TUNED)]  # fmt: skip
        self.strategy_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return self.strategy_proc

    def _tuner(self, strategy: subprocess.Popen[str] | None) -> None:
        """The tuning engine on the frontend's outbound calls (catalog and pricing: where the incident
        shows), once its strategy is stored."""
        if strategy is None:
            return
        output, _ = strategy.communicate(timeout=60)
        if strategy.returncode != 0:
            raise RuntimeError(f"apex tune strategy set failed: {output.strip()}")
        self.sup.start_python("tuner", "sidecar", "tuner", "--redis", self.redis_url or "",
                              "--control-plane", self.control_plane, "--service", MAIN_SERVICE,
                              "--listener", "outbound", "--require-strategy", "--lag", "1", "--snapshot-every", "5",
                              "--seed", "0", env=self._engine_env("tuner"))  # fmt: skip

    def _wait_certificates(self) -> None:
        """Secured: every sidecar holds its certificate from the CA before load starts (until then its
        mTLS listeners refuse handshakes, and failed calls would eject endpoints)."""
        if self.secrets is not None:
            admins = {sc.instance: sc.ports["admin"] for sc in self.sidecars}
            secure.wait_for_certificates(admins, lambda: bool(self.sup.dead()), self.work)

    def _wait_serving(self, timeout: float = 30.0) -> None:
        """The frontend answers through its sidecar before load starts."""
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.frontend_address) as channel:
            stub = shop_pb2_grpc.FrontendStub(channel)
            while True:
                try:
                    stub.ViewItem(shop_pb2.ViewItemRequest(item_id="1"), timeout=2)
                    return
                except grpc.RpcError:
                    if time.monotonic() > deadline or self.sup.dead():
                        raise RuntimeError(f"the mesh did not come up; logs in {self.work}") from None
                    time.sleep(0.2)

    # --- the timeline ---------------------------------------------------------------------------

    def follow_timeline(self, elapsed: float) -> None:
        """Start or end the incident when the timeline says so (SIGUSR1 / SIGUSR2 to its instance)."""
        wanted = self.timeline.incident(elapsed)
        if wanted == self.incident_on or self.incident_proc is None or self.incident_proc.popen.poll() is not None:
            return
        self.incident_proc.popen.send_signal(signal.SIGUSR1 if wanted else signal.SIGUSR2)
        self.incident_on = wanted
        what = "started" if wanted else "ended"
        self.incidents.append((elapsed, f"incident {what}: {topology.INCIDENT_INSTANCE} {topology.INCIDENT_EFFECT}"))

    def forecast_show(self, report_dir: Path) -> dict[str, str]:
        """`apex forecast show --plot` run as a user would, for the main service and every service the
        engine raised anomalies on: its text output, and a PNG each (forecast-SERVICE.png)."""
        log = self.engines.log if self.engines is not None else panels.EngineLog()
        anomalous = sorted({i.service for i in log.items.get(panels.ANOMALY, ())} - {MAIN_SERVICE})
        out = {}
        for service in [MAIN_SERVICE, *anomalous]:
            png = report_dir / f"forecast-{service}.png"
            argv = [sys.executable, "-m", "sidecar", "forecast", "show", "--service", service, "--redis",
                    self.redis_url or "", "--points", "5", "--plot", str(png)]  # fmt: skip
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                out[service] = "apex forecast show did not finish in 60 s"
                continue
            out[service] = done.stdout if done.returncode == 0 else f"failed ({done.returncode}): {done.stderr}"
        return out

    def stop(self) -> None:
        if self.strategy_proc is not None and self.strategy_proc.poll() is None:  # start-up failed meanwhile
            self.strategy_proc.kill()
            self.strategy_proc.wait(5)
        self.sup.stop_all()
        if self.redis_server is not None:
            self.redis_server.close()
