"""`apex eval nab` end to end on a tiny ROOT, and its errors on bad input."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from sidecar.cli import main


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def _stamps(n: int) -> list[str]:
    t0 = datetime(2021, 3, 1)
    return [(t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


def _rows(stamps: list[str], values: np.ndarray) -> list[str]:
    return [f"{t},{v:.3f}" for t, v in zip(stamps, values, strict=True)]


def _root(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(5)
    n = 1500
    stamps = _stamps(n)
    shifted = 20 + rng.normal(0, 1, n)
    shifted[1000:] += 12
    _write(tmp_path / "data" / "cat" / "shift.csv", "timestamp,value", _rows(stamps, shifted))
    quiet = 20 + rng.normal(0, 1, n)
    _write(tmp_path / "data" / "other" / "quiet.csv", "timestamp,value", _rows(stamps, quiet))
    labels = {
        "cat/shift.csv": [[stamps[990] + ".000000", stamps[1060] + ".000000"]],
        "other/quiet.csv": [],
    }
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps(labels))
    return tmp_path / "data", windows


def test_end_to_end_writes_scored_files_and_prints_the_three_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, windows = _root(tmp_path)
    out = tmp_path / "out"
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("standard=")
    scores = json.loads("\n".join(printed[:-1]))
    assert set(scores) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert printed[-1] == f"standard={scores['standard']:.2f}"
    assert scores["standard"] > 50  # the shift is found early in its window
    with (out / "cat" / "shift.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "alarm"]
    assert len(rows) == 1500
    assert {r["alarm"] for r in rows} <= {"0", "1"}
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)
    assert (out / "other" / "quiet.csv").is_file()


def test_missing_column_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, windows = _root(tmp_path)
    _write(data / "cat" / "bad.csv", "timestamp,val", ["2021-03-01 00:00:00,1"])
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "value" in err


def test_unparsable_timestamp_names_the_file_and_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, windows = _root(tmp_path)
    _write(data / "cat" / "bad.csv", "timestamp,value", ["2021-03-01 00:00:00,1", "yesterday,2"])
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 3" in err and "unparsable timestamp 'yesterday'" in err


def test_non_numeric_value_and_bad_windows_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, windows = _root(tmp_path)
    _write(data / "cat" / "bad.csv", "timestamp,value", ["2021-03-01 00:00:00,abc"])
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(tmp_path / "o")]) == 2
    assert "bad.csv, row 2: value 'abc' is not a number" in capsys.readouterr().err
    (data / "cat" / "bad.csv").unlink()
    windows.write_text("[1, 2]")
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(tmp_path / "o")]) == 2
    assert "windows.json" in capsys.readouterr().err


def test_a_window_that_is_not_in_the_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, windows = _root(tmp_path)
    windows.write_text(json.dumps({"cat/shift.csv": [["1999-01-01 00:00:00", "1999-01-02 00:00:00"]]}))
    assert main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(tmp_path / "o")]) == 2
    assert "cat/shift.csv" in capsys.readouterr().err
