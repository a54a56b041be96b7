"""`apex tune strategy|freeze|unfreeze|show` against a real Redis: strategies stored and shown, presets and
parameter bounds, freezing, decisions listed from Redis, and bad input refused with a message naming it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from typing import Any

import pytest
import redis
from apex.mesh.contract import tune as keys

from engines.tune import strategy as strategies
from sidecar.cli import main

pytestmark = pytest.mark.integration


def test_strategy_set_show_freeze_and_decisions(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    svc = f"cli-{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(redis_url)
    assert main(["tune", "strategy", "show", "--service", svc, "--redis", redis_url]) == 0
    assert "none stored: the default the tuner uses" in capsys.readouterr().out
    args = ["tune", "strategy", "set", "--service", svc, "--redis", redis_url]
    assert main([*args, "--preset", "conservative", "--param", "concurrency=16:512", "--param", "lb",
                 "--slo", "150ms"]) == 0  # fmt: skip
    assert "concurrency 16..512, lb" in capsys.readouterr().out
    stored = strategies.from_json(client.get(keys.strategy_key(svc)))
    assert (stored.preset, stored.params, stored.slo) == (
        "conservative",
        {"concurrency": (16, 512), "lb": (0, 0)},
        0.15,
    )
    assert main([*args, "--epsilon", "0.3"]) == 0  # one change on top of the stored strategy
    capsys.readouterr()
    assert strategies.from_json(client.get(keys.strategy_key(svc))).epsilon == 0.3
    assert main(["tune", "freeze", "--service", svc, "--redis", redis_url]) == 0
    assert "frozen" in capsys.readouterr().out
    assert strategies.from_json(client.get(keys.strategy_key(svc))).frozen
    assert main(["tune", "strategy", "show", "--service", svc, "--redis", redis_url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stored"] and shown["strategy"]["frozen"] and shown["strategy"]["epsilon"] == 0.3
    assert main(["tune", "unfreeze", "--service", svc, "--redis", redis_url]) == 0
    capsys.readouterr()
    assert not strategies.from_json(client.get(keys.strategy_key(svc))).frozen

    doc = {"time": 1.0, "service": svc, "kind": "rollback", "action": "cap_down", "changes": {"concurrency": [64, 25]},
           "evidence": "rollback: Welch t=-4.10, one-sided p=0.004 < 0.05", "version": 5, "stable_version": 4,
           "result_version": 6, "reward_before": 0.9, "reward_after": 0.5, "goodput_before": 0.95,
           "goodput_after": 0.6, "p_value": 0.004, "principal": "tuner"}  # fmt: skip
    client.lpush(keys.decisions_key(svc), json.dumps(doc))
    assert main(["tune", "show", "--service", svc, "--redis", redis_url]) == 0
    out = capsys.readouterr().out
    assert "rollback" in out and "concurrency 64->25" in out and "v5 -> v6" in out
    assert "reward 0.900 -> 0.500" in out and "p=0.004" in out and "by tuner" in out
    assert main(["tune", "show", "--redis", redis_url, "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert everything[svc]["decisions"] == [doc] and everything[svc]["strategy"]["preset"] == "conservative"
    status = {"time": 1.0, "services": {svc: {"model_version": 3, "skipped": "", "params": {"concurrency": 25},
                                             "trial": {"version": 7, "stable": 6, "action": "cap_down"}}}}  # fmt: skip
    group = f"g-{svc}"
    client.hset(keys.status_key(group), keys.STATUS, json.dumps(status))
    assert main(["tune", "show", "--service", svc, "--redis", redis_url, "--group", group]) == 0
    out = capsys.readouterr().out
    assert "engine: model v3, canary of version 7 (cap_down) running" in out and "in force: concurrency=25" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--param", "concurrency=64:16"], "min 64 is above max 16"),
     (["--param", "colour=1:2"], "unknown parameter 'colour'"),
     (["--param", "attempts=1:x"], "must be numbers"),
     (["--trial-windows", "1"], "trial_windows: must be an integer >= 2"),
     (["--canary-percent", "100"], "canary_percent: must be in (0, 100)"),
     (["--slo", "soon"], "--slo: expected a duration")],
)  # fmt: skip
def test_bad_strategies_exit_2_naming_the_problem(
    redis_url: str, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    svc = f"cli-{uuid.uuid4().hex[:6]}"
    assert main(["tune", "strategy", "set", "--service", svc, "--redis", redis_url, *extra]) == 2
    assert message in capsys.readouterr().err
    assert redis.Redis.from_url(redis_url).get(keys.strategy_key(svc)) is None  # nothing stored
    assert main(["tune", "strategy", "set", "--service", "no such service!", "--redis", redis_url]) == 2
    assert "--service" in capsys.readouterr().err


def test_the_engine_process_says_what_it_does_and_stops_cleanly(redis_url: str) -> None:
    cmd = [sys.executable, "-m", "sidecar", "tuner", "--redis", redis_url, "--control-plane", "127.0.0.1:9",
           "--shadow", "--service", "nothing-here", "--log-level", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "apex tuner: reading telemetry from" in first and "shadow mode" in first, first
        assert "(services nothing-here)" in first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_engine_flags_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    base = ["tuner", "--redis", "redis://127.0.0.1:9/0", "--control-plane", "127.0.0.1:9"]
    assert main([*base, "--lag", "-1"]) == 2
    assert "--lag and --claim-idle must be >= 0" in capsys.readouterr().err
    assert main([*base, "--pretrain", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: cannot read" in capsys.readouterr().err
    assert main([*base, "--token", "plain-secret"]) == 2
    assert "by reference" in capsys.readouterr().err
