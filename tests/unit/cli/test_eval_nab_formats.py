"""`apex eval nab` on what a held-out NAB-format corpus can hold: encodings, header case, timestamp
forms, labels keys in other forms, files on one side only, missing values, odd order, extra folders."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from engines.anomaly import nab_data, nab_eval, nab_score
from sidecar.cli import main

N = 400


def _stamps(n: int = N, fmt: str = "%Y-%m-%d %H:%M:%S") -> list[str]:
    t0 = datetime(2021, 3, 1)
    return [(t0 + timedelta(minutes=5 * i)).strftime(fmt) for i in range(n)]


def _csv(path: Path, stamps: list[str], values: list[str], header: str = "timestamp,value", eol: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header, *(f"{t},{v}" for t, v in zip(stamps, values, strict=True))]
    path.write_bytes(eol.join(lines).encode() + eol.encode())


def _values(n: int = N, seed: int = 1) -> list[str]:
    x = 10 + np.random.default_rng(seed).normal(0, 1, n)
    x[300:] += 8
    return [f"{v:.3f}" for v in x]


def _window(stamps: list[str]) -> list[list[str]]:
    return [[stamps[290] + ".000000", stamps[330] + ".000000"]]


def _run(capsys: pytest.CaptureFixture[str], data: Path, windows: Path, out: Path) -> tuple[int, str, str]:
    code = main(["eval", "nab", "--data", str(data), "--windows", str(windows), "--out", str(out)])
    printed, err = capsys.readouterr()
    return code, printed, err


def _labels(tmp_path: Path, labels: dict[str, object], bom: bool = False) -> Path:
    path = tmp_path / "windows.json"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + json.dumps(labels).encode())
    return path


def test_bom_crlf_header_case_and_minutes_only_timestamps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Excel's CSV: a byte-order mark, CRLF, a capitalised header; timestamps without seconds, while
    # the labels carry NAB's fractional seconds.
    short = _stamps(fmt="%Y-%m-%d %H:%M")
    path = tmp_path / "data" / "cat" / "a.csv"
    _csv(path, short, _values(), header="\ufeffTimestamp, Value", eol="\r\n")
    windows = _labels(tmp_path, {"cat/a.csv": _window(_stamps())}, bom=True)
    code, _, err = _run(capsys, tmp_path / "data", windows, tmp_path / "out")
    assert code == 0, err
    assert "1 files, 400 rows, 1 windows scored" in err
    with (tmp_path / "out" / "cat" / "a.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["timestamp", "value", "anomaly_score", "alarm"] and rows[1][0] == short[0]


@pytest.mark.parametrize("key", ["cat/a.csv", "cat/a", "a.csv", "a", "data/cat/a.csv", "./cat/a.csv"])
def test_labels_keys_with_or_without_category_and_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    stamps = _stamps()
    _csv(tmp_path / "data" / "cat" / "a.csv", stamps, _values())
    _csv(tmp_path / "data" / "cat" / "b.csv", stamps, _values(seed=2))
    windows = _labels(tmp_path, {key: _window(stamps), "cat/b.csv": []})
    code, _, err = _run(capsys, tmp_path / "data", windows, tmp_path / "out")
    assert code == 0 and "2 files, 800 rows, 1 windows scored" in err and "not scored" not in err


def test_a_name_in_two_categories_or_named_twice_is_an_error(tmp_path: Path) -> None:
    keys = ["x/a.csv", "y/a.csv", "y/b.csv"]
    with pytest.raises(nab_data.NabDataError, match=r"entry 'a.csv' names 2 files: x/a.csv, y/a.csv"):
        nab_data.match_windows({"a.csv": []}, keys, tmp_path / "w.json")
    with pytest.raises(nab_data.NabDataError, match=r"entries 'y/b.csv' and 'b' both name y/b.csv"):
        nab_data.match_windows({"y/b.csv": [], "b": []}, keys, tmp_path / "w.json")


def test_labelled_files_absent_from_root_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stamps = _stamps()
    _csv(tmp_path / "data" / "cat" / "a.csv", stamps, _values())
    _csv(tmp_path / "data" / "cat" / "unlabelled.csv", stamps, _values(seed=3))
    windows = _labels(tmp_path, {"cat/a.csv": _window(stamps), "cat/gone.csv": [], "other/gone2.csv": []})
    code, out, err = _run(capsys, tmp_path / "data", windows, tmp_path / "out")
    assert code == 0 and out.strip().splitlines()[-1].startswith("standard=")
    assert "2 labelled file(s) not in" in err and "cat/gone.csv, other/gone2.csv" in err
    assert "the scores cover the 1 files scored" in err
    assert "cat/unlabelled.csv: not in" in err and (tmp_path / "out" / "cat" / "unlabelled.csv").is_file()


def test_labels_that_name_no_file_of_root_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _csv(tmp_path / "data" / "cat" / "a.csv", _stamps(), _values())
    windows = _labels(tmp_path, {"other/zzz.csv": []})
    code, out, err = _run(capsys, tmp_path / "data", windows, tmp_path / "out")
    assert code == 2 and out == "" and "none of its 1 entries names one of the 1 files" in err
    assert err.count("\n") == 1


def test_missing_values_keep_their_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stamps = _stamps()
    values = _values()
    values[0], values[50], values[51], values[320] = "", "NaN", "NA", "nan"
    _csv(tmp_path / "data" / "cat" / "a.csv", stamps, values)
    code, _, err = _run(capsys, tmp_path / "data", _labels(tmp_path, {"cat/a.csv": _window(stamps)}), tmp_path / "o")
    assert code == 0 and "cat/a.csv: 4 row(s) without a value (first at row 2)" in err
    with (tmp_path / "o" / "cat" / "a.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == N and rows[50]["value"] == "" and rows[49]["value"] == values[49]
    assert all(np.isfinite(float(r["anomaly_score"])) for r in rows)


def test_carried_values_are_causal() -> None:
    nan = float("nan")
    assert nab_eval.carried(np.array([nan, 2.0, nan, nan, 5.0, nan])).tolist() == [2.0, 2.0, 2.0, 2.0, 5.0, 5.0]
    assert nab_eval.carried(np.array([nan, nan])).tolist() == [0.0, 0.0]
    x = np.array([1.0, 2.0])
    assert nab_eval.carried(x) is x


def test_a_timestamp_going_back_is_noted_a_reversed_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # NAB's own machine_temperature_system_failure.csv jumps back an hour once: scored in file order.
    stamps = _stamps()
    glitch = [*stamps[:200], stamps[150], *stamps[201:]]
    _csv(tmp_path / "data" / "cat" / "a.csv", glitch, _values())
    windows = _labels(tmp_path, {"cat/a.csv": _window(stamps)})
    code, _, err = _run(capsys, tmp_path / "data", windows, tmp_path / "o")
    assert code == 0 and "cat/a.csv: the timestamp goes back at row 202" in err
    _csv(tmp_path / "data" / "cat" / "a.csv", stamps[::-1], _values())
    code, out, err = _run(capsys, tmp_path / "data", windows, tmp_path / "o")
    assert code == 2 and out == "" and "a.csv, row 3: timestamps are not in time order (399 of 400 rows go back" in err


def test_constant_single_row_and_empty_files_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stamps = _stamps()
    _csv(tmp_path / "data" / "cat" / "flat.csv", stamps, ["5"] * N)
    _csv(tmp_path / "data" / "cat" / "one.csv", stamps[:1], ["5"])
    _csv(tmp_path / "data" / "cat" / "none.csv", [], [])
    _csv(tmp_path / "data" / "cat" / "a.csv", stamps, _values())
    labels = {"cat/flat.csv": [], "cat/one.csv": [[stamps[0], stamps[0]]], "cat/none.csv": [], "cat/a.csv": []}
    code, out, err = _run(capsys, tmp_path / "data", _labels(tmp_path, labels), tmp_path / "o")
    assert code == 0 and "cat/none.csv: no rows" in err
    scores = json.loads("\n".join(out.strip().splitlines()[:-1]))
    assert all(np.isfinite(v) for v in scores.values())
    flat = list(csv.DictReader((tmp_path / "o" / "cat" / "flat.csv").open()))
    assert {r["alarm"] for r in flat} == {"0"}


def test_extra_folders_and_files_in_root_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stamps = _stamps()
    data = tmp_path / "data"
    _csv(data / "cat" / "a.csv", stamps, _values())
    (data / "README.md").write_text("# data\n")
    (data / "labels").mkdir()
    (data / "labels" / "combined_windows.json").write_text("{}")
    (data / "top.csv").write_text("timestamp,value\n")
    _csv(data / "cat" / "deeper" / "x.csv", stamps, _values())
    _csv(data / ".ipynb_checkpoints" / "a-checkpoint.csv", stamps, _values())
    (data / "__MACOSX" / "cat").mkdir(parents=True)
    (data / "__MACOSX" / "cat" / "._a.csv").write_bytes(b"\x00\x05\x16\x07\xff\xfe binary")
    (data / "cat" / "._a.csv").write_bytes(b"\x00\x05\x16\x07\xff\xfe binary")
    code, _, err = _run(capsys, data, _labels(tmp_path, {"cat/a.csv": _window(stamps)}), tmp_path / "o")
    assert code == 0, err
    assert "1 files, 400 rows, 1 windows scored" in err
    assert "5 CSV file(s) not at ROOT/<category>/<name>.csv ignored" in err
    assert sorted(p.name for p in (tmp_path / "o").rglob("*.csv")) == ["a.csv"]


def test_a_nab_checkout_as_root_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _csv(tmp_path / "nab" / "data" / "cat" / "a.csv", _stamps(), _values())
    code, _, err = _run(capsys, tmp_path / "nab", _labels(tmp_path, {}), tmp_path / "o")
    assert code == 2 and "no <category>/<name>.csv files (NAB's checkout keeps them in its data/ folder" in err


def test_windows_match_timestamps_as_instants() -> None:
    stamps = ["2020-01-01T00:00:00Z", *(f"2020-01-01 00:{m:02d}" for m in range(1, 10))]
    rows, notes = nab_score.map_windows(stamps, [("2020-01-01 00:00:00.000000", "2020-01-01 00:03:00")])
    assert rows == [(0, 3)] and notes == []
    rows, notes = nab_score.map_windows(stamps, [("2020/01/01 00:02:30", "2020-01-01 00:05:30")])
    assert rows == [(3, 5)] and "not timestamps of the file: it covers the rows from 2020-01-01 00:03" in notes[0]
    with pytest.raises(ValueError, match="its end is before its start"):
        nab_score.map_windows(stamps, [("2020-01-01 00:05:00", "2020-01-01 00:01:00")])


def test_an_unparsable_window_timestamp_names_the_entry(tmp_path: Path) -> None:
    path = _labels(tmp_path, {"cat/a.csv": [["2020-01-01 00:00:00", "soon"]]})
    with pytest.raises(nab_data.NabDataError, match=r"entry 'cat/a.csv': unparsable timestamp 'soon'"):
        nab_data.read_windows(path)


def test_an_unwritable_out_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _csv(tmp_path / "data" / "cat" / "a.csv", _stamps(), _values())
    (tmp_path / "out").write_text("a file where the output folder should be")
    code, out, err = _run(capsys, tmp_path / "data", _labels(tmp_path, {"cat/a.csv": []}), tmp_path / "out")
    assert code == 2 and out == "" and "cannot write" in err and err.count("\n") == 1
