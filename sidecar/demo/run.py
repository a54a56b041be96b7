"""Orchestrate the demo: start the mesh, drive load, draw the dashboard, stop cleanly, report."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import redis.asyncio as aioredis
import yaml
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc, shop_pb2, shop_pb2_grpc

from sidecar.config.yaml_proto import fill
from sidecar.demo import dashboard, observe, panels, peers, secure, topology
from sidecar.demo.engines_view import EnginesView
from sidecar.demo.load import LoadGenerator, daily_rate
from sidecar.demo.procs import Proc, Supervisor
from sidecar.demo.secure import DemoSecrets
from sidecar.demo.timeline import Timeline
from sidecar.security.status import SecurityStatus, as_dict
from sidecar.support.redis_server import RedisServer, external_url, free_port

Ready = Callable[[], observe.SidecarView]  # waits until a started sidecar is up
MAIN_SERVICE = "frontend"  # the service the load calls: its forecast is the dashboard's
# What the tuner may move on the frontend's outbound routes and clusters (the forecaster owns cache TTLs).
TUNED = ("concurrency", "eject_after", "attempts", "retry_budget")
INSECURE_BANNER = (
    "INSECURE DEMO (--insecure): no mTLS between the sidecars, no identities, and a control plane that lets "
    "anyone register as any service and change any policy (audit authors are unverified claims). For "
    "comparison and debugging only; `apex demo` without --insecure runs the mesh secured."
)


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
        """The forecasting engine, at a demo's scale: 1 s points, forecasts 20 s ahead every second."""
        self.sup.start_python("forecaster", "sidecar", "forecaster", "--redis", self.redis_url or "",
                              "--control-plane", self.control_plane, "--horizon", "20", "--ratio", "1.3",
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

    # --- live view ----------------------------------------------------------------------------

    async def frame(self, load: LoadGenerator, telemetry: observe.TelemetryView, cp: Any, dt: float,
                    duration: float | None) -> dashboard.Frame:  # fmt: skip
        rows: dict[str, dashboard.ServiceRow] = {}
        states: dict[str, str] = {}
        for sc in self.sidecars:
            row = await observe.route_row(sc, dt)
            merged = rows.setdefault(sc.service, dashboard.ServiceRow(sc.service, policy_version=row.policy_version))
            total = merged.calls_per_s + row.calls_per_s
            if total:
                merged.error_rate = (merged.error_rate * merged.calls_per_s + row.error_rate * row.calls_per_s) / total
            merged.calls_per_s = total
            if (hit := await observe.cache_hit_rate(sc)) is not None:
                rows.setdefault("pricing", dashboard.ServiceRow("pricing")).cache_hit_rate = hit
            states.update(await observe.ejections(sc))
        await telemetry.refresh()
        for name, row in rows.items():
            row.breaker = states.get(name, "-")
            row.p50_ms, row.p99_ms = telemetry.latest.get(name, (None, None))
        self.actions = await observe.engine_actions(cp, self.audit, self.operator, self.authors)
        elapsed = time.monotonic() - load.started
        offered = daily_rate(elapsed, self.period, self.peak)
        ordered = [rows[s] for s in observe.SERVICES if s in rows]
        self.history["t"].append(elapsed)
        self.history["offered"].append(offered)
        self.history["rows"].append(ordered)
        lines = await self._peers_panel()
        if self.engines is not None:
            await self.engines.refresh()
            main = MAIN_SERVICE
            lines += panels.forecast_panel(main, self.engines.forecasts.get(main), time.time())
            lines += panels.event_panels(self.engines.log, tuner_note=self.tuner_note)
        return dashboard.Frame(elapsed, duration or 0.0, offered, ordered, telemetry.windows, self.actions,
                               phase=self.timeline.label(elapsed), panels=lines)  # fmt: skip

    async def _peers_panel(self) -> list[str]:
        """Each sidecar's identity, certificate and callers (read from its admin API), as panel lines."""
        if self.secrets is None:
            return [peers.INSECURE_NOTE, ""]
        ordered = sorted(self.sidecars, key=lambda sc: (sc.service != MAIN_SERVICE, sc.instance))  # the caller first
        self.peers = [(sc.instance, await observe.security(sc)) for sc in ordered]
        return [*peers.peers_panel(self.peers, time.time()), ""]

    async def watch(self, load: LoadGenerator, duration: float | None, stop: asyncio.Event, tty: bool) -> int:
        for sc in self.sidecars:
            sc.open()
        client = aioredis.from_url(self.redis_url or "", socket_timeout=1)
        telemetry = observe.TelemetryView(client)
        self.engines = EnginesView(client, observe.SERVICES)
        cp = grpc.aio.insecure_channel(self.control_plane)
        last = time.monotonic()
        try:
            while not stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                now = time.monotonic()
                self.follow_timeline(now - load.started)
                frame = await self.frame(load, telemetry, cp, now - last, duration)
                last = now
                text = dashboard.render(frame)
                if tty:
                    sys.stdout.write("\x1b[H\x1b[2J" + text + "\n")
                elif len(self.history["t"]) % 10 == 0:
                    n = self.engines.log.counts
                    counts = ", ".join(f"{c} {n.get(c, 0)}" for c in (panels.PREDICTION, panels.ANOMALY,
                                                                       panels.ACTION, panels.TUNER))  # fmt: skip
                    secured = ""
                    if self.secrets is not None:
                        accepted, refused, _ = peers.totals(self.peers)
                        secured = f"; mTLS calls {accepted}, refused {refused}"
                    sys.stdout.write(f"{text.splitlines()[0]}   [{frame.phase}] engine events: {counts}{secured}\n")
                sys.stdout.flush()
            await telemetry.refresh()
            await self.engines.refresh()
            await self._peers_panel()  # the final counts, for the report
            return telemetry.windows
        finally:
            await client.aclose()
            await cp.close()
            for sc in self.sidecars:
                await sc.close()

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


async def _drive(demo: Demo, duration: float | None, tty: bool) -> tuple[LoadGenerator, int]:
    load = LoadGenerator(demo.frontend_address, demo.period, demo.peak)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    load.started = time.monotonic()
    load_task = asyncio.create_task(load.run(duration if duration is not None else 10**9))
    load_task.add_done_callback(lambda _: stop.set())
    windows = await demo.watch(load, duration, stop, tty)
    load_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await load_task
    return load, windows


def run(
    duration: float | None,
    timeline: Timeline,
    peak: float,
    report_dir: Path,
    redis_url: str | None,
    insecure: bool = False,
) -> int:
    import uvloop

    from sidecar.demo import report

    report_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="apex-demo-") as tmp:
        demo = Demo(Path(tmp), timeline, peak, redis_url=redis_url or external_url(), insecure=insecure)
        show: dict[str, str] = {}
        try:
            if insecure:
                print(f"\n*** {INSECURE_BANNER} ***\n", flush=True)
            print("starting the mesh: redis, control plane, services with sidecars, forecaster, tuner ...", flush=True)
            if not insecure:
                print("secured: tokens in 0600 files, control plane with --auth and its CA, mTLS between sidecars",
                      flush=True)  # fmt: skip
            demo.start()
            print(f"frontend reachable through its sidecar at {demo.frontend_address}", flush=True)
            load, windows = uvloop.run(_drive(demo, duration, sys.stdout.isatty()))
            show = demo.forecast_show(report_dir)
        finally:
            demo.stop()
        stray = [p.name for p in demo.sup.procs if p.popen.poll() is None]
        engines = demo.engines.log if demo.engines is not None else panels.EngineLog()
        elapsed = demo.history["t"][-1] if demo.history["t"] else 0.0
        security_lines = (peers.peers_panel(demo.peers, time.time()) if not insecure
                          else [peers.INSECURE_NOTE, INSECURE_BANNER])  # fmt: skip
        path = report.write(report_dir, demo.history, load, windows, demo.actions,
                            report.Engines(engines, show, timeline.milestones(elapsed), demo.incidents,
                                           demo.tuner_note, report_dir), security_lines)  # fmt: skip
    sent, ok, errors = load.totals()
    counts = {c: engines.counts.get(c, 0) for c in (panels.PREDICTION, panels.ANOMALY, panels.ACTION, panels.TUNER)}
    summary = {"sent": sent, "ok": ok, "errors": errors, "error_codes": dict(load.codes), "cancelled": load.cancelled,
               "telemetry_windows": windows,
               "engine_actions": demo.actions, "engine_events": counts, "incidents": demo.incidents,
               "forecast_shown": "forecast (model" in show.get(MAIN_SERVICE, ""), "stray_processes": stray,
               "security": "insecure" if insecure else "mtls",
               "audit_authors": {engine: sorted(names) for engine, names in sorted(demo.authors.items())},
               "peers": {name: None if st is None else as_dict(st) for name, st in demo.peers}}  # fmt: skip
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\ncalls sent {sent}, ok {ok}, failed {errors}, cancelled at stop {load.cancelled}; "
          f"telemetry windows {windows}; engine actions {len(demo.actions)}; engine events {counts}; "
          f"report: {path}")  # fmt: skip
    if insecure:
        print(f"*** {INSECURE_BANNER} ***")
    else:
        print(peers.summary_line(demo.peers, demo.authors))
    for action in demo.actions[-5:]:
        print(f"  {action}")
    if ok == 0:
        print("demo failed: no call succeeded", file=sys.stderr)
        return 1
    if not windows:
        print("demo failed: no telemetry window arrived in Redis", file=sys.stderr)
        return 1
    return 0
