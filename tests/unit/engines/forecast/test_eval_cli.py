"""`apex eval forecast` and `apex forecast backtest` end to end on small files, bad input too, and a
short developer-set check that ours beats seasonal naive (a loose bound, not the target)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from engines.forecast import synthetic, wide_csv
from sidecar.cli import main
from tests.support.shared_data import shared_dir


def write_pair(tmp_path: Path, n: int = 24 * 7 * 3, h: int = 24, count: int = 3) -> tuple[Path, Path]:
    data = synthetic.panel(count, n + h, seed=11)
    wide_csv.write(tmp_path / "train.csv", {sid: y[:n] for sid, y in data.items()}, prefix="V")
    wide_csv.write(tmp_path / "test.csv", {sid: y[n:] for sid, y in data.items()}, prefix="V")
    return tmp_path / "train.csv", tmp_path / "test.csv"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_forecast_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test = write_pair(tmp_path)
    argv = ["eval", "forecast", "--train", str(train), "--test", str(test), "--horizon", "24", "--season", "24"]
    code, out, _ = run([*argv, "--out", str(tmp_path / "out")], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[-1].startswith("mase_ratio=") and float(lines[-1].split("=")[1]) > 0
    assert any(line.startswith("seasonal_naive") for line in lines) and any(line.startswith("naive") for line in lines)
    forecasts = wide_csv.read(tmp_path / "out" / "forecasts.csv")
    assert list(forecasts) == ["S1", "S2", "S3"] and all(len(v) == 24 for v in forecasts.values())


def test_ragged_rows_and_empty_cells_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,V1,V2,V3\nA,1,2,3\nB,4,,\n\n", encoding="utf-8")
    series = wide_csv.read(tmp_path / "a.csv")
    assert list(series["A"]) == [1, 2, 3] and list(series["B"]) == [4]
    # M4's own files quote every cell; a byte-order mark and CRLF line ends are harmless too
    (tmp_path / "b.csv").write_bytes(b'\xef\xbb\xbf"V1","V2","V3"\r\n"H1","1.5","2",""\r\n')
    assert list(wide_csv.read(tmp_path / "b.csv")["H1"]) == [1.5, 2.0]


@pytest.mark.parametrize(
    ("train_text", "test_text", "message"),
    [
        (None, "id,V1\nA,1\n", "no such file"),
        ("id,V1,V2\nA,1,x2\n", "id,V1\nA,1\n", "column 3: 'x2' is not a number"),
        ("id,V1,V2\nA,1,2\n", "id,V1\nA,1\nB,2\n", "missing from the training file: B"),
        ("", "id,V1\nA,1\n", "empty file"),
        ("id,V1\nA,1,inf\n", "id,V1\nA,1\n", "not finite"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], train_text: str | None, test_text: str, message: str
) -> None:
    train = tmp_path / "train.csv"
    if train_text is not None:
        train.write_text(train_text, encoding="utf-8")
    (tmp_path / "test.csv").write_text(test_text, encoding="utf-8")
    argv = ["eval", "forecast", "--train", str(train), "--test", str(tmp_path / "test.csv"), "--horizon", "1"]
    code, out, err = run([*argv, "--season", "24"], capsys)
    assert code == 2 and message in err and "mase_ratio" not in out
    assert "train.csv" in err or "test.csv" in err


def test_too_short_training_series_falls_back_to_naive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test = write_pair(tmp_path, count=2)
    with train.open("a", encoding="utf-8") as f:
        csv.writer(f).writerow(["short", "5", "6", "7"])
    with test.open("a", encoding="utf-8") as f:
        csv.writer(f).writerow(["short"] + ["8"] * 24)
    argv = ["eval", "forecast", "--train", str(train), "--test", str(test), "--horizon", "24", "--season", "24"]
    code, out, err = run([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 0 and "short: history of 3 too short to backtest: naive" in err
    assert list(wide_csv.read(tmp_path / "o" / "forecasts.csv")["short"]) == [7.0] * 24
    assert out.strip().splitlines()[-1].startswith("mase_ratio=")


def test_forecast_backtest_on_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = write_pair(tmp_path, n=24 * 7 * 4, count=2)
    code, out, _ = run(["forecast", "backtest", str(train), "--horizon", "24", "--origins", "2"], capsys)
    assert code == 0 and out.strip().splitlines()[-1].startswith("mase_ratio=")
    nab = tmp_path / "nab.csv"
    stamps = np.datetime64("2026-01-01T00:00") + np.arange(24 * 7 * 3) * np.timedelta64(1, "h")
    y = synthetic.traffic(len(stamps), np.random.default_rng(1))
    nab.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(stamps, y, strict=True)))
    code, out, _ = run(["forecast", "backtest", str(nab), "--horizon", "24", "--origins", "1"], capsys)
    assert code == 0 and "nab" in out
    code, _, err = run(["forecast", "backtest", str(tmp_path / "missing.csv")], capsys)
    assert code == 2 and "no such file" in err


def test_dev_set_beats_seasonal_naive(capsys: pytest.CaptureFixture[str]) -> None:
    # The developer set lives in shared/ beside the checkout: missing data fails, naming where it looked.
    dev = shared_dir("data/forecast-dev")
    train, test = dev / "Dev-Hourly-train.csv", dev / "Dev-Hourly-test.csv"
    argv = ["eval", "forecast", "--train", str(train), "--test", str(test)]
    code, out, _ = run([*argv, "--horizon", "48", "--season", "24"], capsys)
    assert code == 0
    ratio = float(out.strip().splitlines()[-1].removeprefix("mase_ratio="))
    assert ratio < 0.95
