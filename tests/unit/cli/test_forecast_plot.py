"""`apex forecast show --plot`: a real PNG from what a real engine stores (the history, the forecast
with its interval, the anomalies marked), and clear errors when there is nothing to plot."""

from __future__ import annotations

import argparse
import json
import struct
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from apex.mesh.contract import forecast as keys
from apex.mesh.contract.histogram import Histogram

from engines.forecast.engine import Engine, EngineConfig, HoltDetector
from engines.forecast.predict import Rules
from engines.ingest.samples import Closed, Sample
from sidecar.cli import forecast_show
from sidecar.cli.forecast_plot import PlotError, plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = 1_800_000_000


def sample(calls: float, latency: float) -> Sample:
    h = Histogram()
    for _ in range(5):
        h.record(latency)
    return Sample(calls=calls, latency=h)


def engine_state() -> dict[str, Any]:
    """What `apex forecaster` stores for a service (the same documents, through JSON): a steady
    daily-like rate that jumps to a new level, with latency that jumps with it."""
    engine = Engine(EngineConfig(resolution_s=1, history=120, horizon=20, rules=Rules(min_points=20)),
                    detector=lambda: HoltDetector(quiet=30))  # fmt: skip
    rng = np.random.default_rng(11)
    rates = [20 + 5 * np.sin(i / 10) + rng.normal(0, 0.3) for i in range(100)] + [60.0 + rng.normal(0, 0.3)] * 20
    latency = [0.010 * rng.lognormal(0, 0.1) for _ in range(100)] + [0.090] * 20
    engine.observe(Closed("shop", START + i, sample(r, x)) for i, (r, x) in enumerate(zip(rates, latency, strict=True)))
    ev = engine.evaluate("shop", START + 120.0)
    state = {"forecast": ev.forecast, "profile": ev.profile, "predictions": [], "actions": [], "lag": None,
             "anomalies": list(engine.anomalies["shop"]), "updated": START + 120.0}  # fmt: skip
    loaded: dict[str, Any] = json.loads(json.dumps(state))
    return loaded


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE, data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_plot_is_a_png_of_the_history_forecast_interval_and_anomalies(tmp_path: Path) -> None:
    state = engine_state()
    assert state["forecast"]["mean"] and state["anomalies"], "the engine should have forecast and alarmed"
    path = tmp_path / "shop.png"
    drawn = plot(str(path), "shop", state)
    data = path.read_bytes()
    assert png_size(data) == drawn.size == (1000, 600)
    assert data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")  # complete: ends with the IEND chunk
    assert len(data) > 20_000  # two panels of lines, shading and text, not an empty canvas
    assert drawn.history == 119 and drawn.forecast == 20  # 120 seconds: the last row is written by the next
    assert "0.8" in drawn.intervals
    assert drawn.anomalies == len(state["anomalies"]) and {a["metric"] for a in state["anomalies"]} == {"rate", "p99"}


def test_show_plot_reads_the_stored_state_from_redis_and_writes_the_png(
    tmp_path: Path, capsys: Any, redis_url: str
) -> None:
    service = f"plot-{uuid.uuid4().hex[:8]}"
    state = engine_state()
    client = redis.Redis.from_url(redis_url)
    try:  # stored as the runner stores it: one JSON document per field of the state hash
        fields = {k: json.dumps(state[k]) for k in (keys.FORECAST, keys.PROFILE, keys.PREDICTIONS, keys.ANOMALIES,
                                                     keys.UPDATED)}  # fmt: skip
        client.hset(keys.state_key(service), mapping=fields)  # type: ignore[arg-type]
    finally:
        client.close()
    path = tmp_path / "out.png"
    args = argparse.Namespace(service=service, redis=redis_url, group="forecaster", points=3, json=False,
                              plot=str(path))  # fmt: skip
    assert forecast_show.run(args) == 0
    out = capsys.readouterr().out
    assert "forecast (model" in out and f"wrote {path} (119 points of history, 20 forecast" in out
    assert png_size(path.read_bytes()) == (1000, 600)
    args.service, args.plot = "nobody-" + service, str(tmp_path / "nobody.png")
    assert forecast_show.run(args) == 1
    assert "no history for nobody-" in capsys.readouterr().err and not (tmp_path / "nobody.png").exists()


def test_nothing_stored_is_a_clear_error_and_no_file(tmp_path: Path) -> None:
    path = tmp_path / "none.png"
    with pytest.raises(PlotError, match="no history for ghost"):
        plot(str(path), "ghost", {})
    assert not path.exists()
    bad = engine_state()
    bad["forecast"]["rate"] = bad["forecast"]["rate"][:-1]
    with pytest.raises(PlotError, match="different lengths"):
        plot(str(path), "shop", bad)
    bad = engine_state()
    assert len(bad["forecast"]["demand"]) == len(bad["forecast"]["times"])  # drawn beside the rate
    bad["forecast"]["demand"] = bad["forecast"]["demand"][:-1]
    with pytest.raises(PlotError, match=r"forecast\.times and forecast\.demand have different lengths"):
        plot(str(path), "shop", bad)
    bad = engine_state()
    bad["forecast"]["lower"]["0.8"] = ["x"] * 20
    with pytest.raises(PlotError, match=r"lower\[0.8\] holds a value that is not a number"):
        plot(str(path), "shop", bad)
