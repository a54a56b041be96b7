"""`apex eval forecast` on what a held-out M4-format file can hold: quoting, padding, odd headers,
ids in another order or in one file only, long test rows, short, constant and absurd series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.forecast import evaluate, metrics, synthetic, wide_csv
from sidecar.cli import main


def _file(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _cli(capsys: pytest.CaptureFixture[str], train: Path, test: Path, h: int, m: int) -> tuple[int, str, str]:
    code = main(
        ["eval", "forecast", "--train", str(train), "--test", str(test), "--horizon", str(h), "--season", str(m)]
    )
    out, err = capsys.readouterr()
    return code, out, err


def _panel(count: int, n: int, h: int, seed: int = 3) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    data = synthetic.panel(count, n + h, seed=seed)
    return {k: v[:n] for k, v in data.items()}, {k: v[n:] for k, v in data.items()}


def test_an_official_m4_style_file_reads_as_written(tmp_path: Path) -> None:
    # M4 quotes every cell; rows are ragged and padded; BOM, CRLF, a trailing blank line, spaces,
    # exponents and negative values are all plain input.
    raw = (
        b'\xef\xbb\xbf"V1","V2","V3","V4"\r\n'
        b'"H1","605","586","586.5"\r\n'
        b'"H2", "1e3" , " 12 ",-4.5,""\r\n'
        b'"H3","7","","",""\r\n'
        b"\r\n"
    )
    series = wide_csv.read(_file(tmp_path, "m4.csv", raw))
    assert list(series) == ["H1", "H2", "H3"]
    assert series["H1"].tolist() == [605.0, 586.0, 586.5]
    assert series["H2"].tolist() == [1000.0, 12.0, -4.5]
    assert series["H3"].tolist() == [7.0]


@pytest.mark.parametrize("pad", ["NA", "NaN", "nan", '"NA"', "N/A", ""])
def test_na_cells_after_the_last_value_are_padding(tmp_path: Path, pad: str) -> None:
    # R's write.csv pads ragged rows with NA, pandas with NaN (or an empty cell).
    path = _file(tmp_path, "t.csv", f"id,V1,V2,V3,V4\nA,1,2,{pad},{pad}\nB,3,4,5,6\n")
    assert {k: v.tolist() for k, v in wide_csv.read(path).items()} == {"A": [1.0, 2.0], "B": [3.0, 4.0, 5.0, 6.0]}


@pytest.mark.parametrize("cell", ["", "NA", "nan"])
def test_a_gap_inside_a_series_is_ignored_and_noted(tmp_path: Path, cell: str) -> None:
    # The format says empty cells are ignored; skipping one moves the later values up a step, so it is never silent.
    path = _file(tmp_path, "t.csv", f"id,V1,V2,V3,V4\nA,1,2,3,4\nB,4,{cell},6,{cell}\n")
    notes: list[str] = []
    series = {k: v.tolist() for k, v in wide_csv.read(path, notes).items()}
    assert series == {"A": [1.0, 2.0, 3.0, 4.0], "B": [4.0, 6.0]}
    assert len(notes) == 1
    assert "t.csv:3: series 'B': 1 empty or NA cell(s) inside the series ignored (column 3)" in notes[0]


def test_a_file_without_a_header_row_is_an_error(tmp_path: Path) -> None:
    # Reading its first row as the header would drop series H1 without a word.
    path = _file(tmp_path, "t.csv", "H1,605,586,590\nH2,10,11,12\n")
    with pytest.raises(wide_csv.SeriesFileError, match=r"t.csv:1: the first row looks like a series \('H1'"):
        wide_csv.read(path)


@pytest.mark.parametrize("header", ["id,1,2,3", ",0,1,2", "id,961,962,963", "series,V1,V2,V3", '"V1","V2","V3","V4"'])
def test_headers_with_column_numbers_are_headers(tmp_path: Path, header: str) -> None:
    path = _file(tmp_path, "t.csv", f"{header}\nA,1,2,3\n")
    assert wide_csv.read(path)["A"].tolist() == [1.0, 2.0, 3.0]


def test_a_semicolon_separated_file_is_an_error(tmp_path: Path) -> None:
    path = _file(tmp_path, "t.csv", "id;V1;V2\nA;1;2\n")
    with pytest.raises(wide_csv.SeriesFileError, match=r"t\.csv:2: no comma in the row"):
        wide_csv.read(path)


def test_test_rows_are_matched_to_training_rows_by_id() -> None:
    train, test = _panel(4, 24 * 14, 24)
    shuffled = {k: test[k] for k in reversed(list(test))}
    a = evaluate.evaluate(train, test, 24, 24)
    b = evaluate.evaluate(train, shuffled, 24, 24)
    assert list(b.forecasts) == list(shuffled)
    for sid in test:
        np.testing.assert_array_equal(a.forecasts[sid], b.forecasts[sid])
    assert a.mean("mase", "ours") == pytest.approx(b.mean("mase", "ours"))
    assert a.mase_ratio == pytest.approx(b.mase_ratio)


def test_training_series_without_a_test_row_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test = _panel(3, 24 * 10, 24)
    wide_csv.write(tmp_path / "train.csv", train)
    wide_csv.write(tmp_path / "test.csv", {k: v for k, v in test.items() if k != "S2"})
    code, out, err = _cli(capsys, tmp_path / "train.csv", tmp_path / "test.csv", 24, 24)
    assert code == 0 and "note: 1 training series have no test row, not scored: S2" in err
    assert out.startswith("series=2 ")


def test_test_ids_missing_from_training_are_an_error_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _panel(2, 24 * 10, 24)
    wide_csv.write(tmp_path / "train.csv", train)
    wide_csv.write(tmp_path / "test.csv", test | {f"X{i}": test["S1"] for i in range(7)})
    code, out, err = _cli(capsys, tmp_path / "train.csv", tmp_path / "test.csv", 24, 24)
    assert code == 2 and out == ""
    assert "7 test series missing from the training file: X0, X1, X2, X3, X4 and 2 more" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_test_rows_longer_than_the_horizon_are_scored_on_the_first_h() -> None:
    train, test = _panel(2, 24 * 10, 48)
    long = evaluate.evaluate(train, test, 24, 24)
    cut = evaluate.evaluate(train, {k: v[:24] for k, v in test.items()}, 24, 24)
    assert long.mase["ours"] == cut.mase["ours"] and long.smape["snaive"] == cut.smape["snaive"]
    assert "2 test series have more than 24 values, scored on their first 24: S1, S2" in long.notes
    short = evaluate.evaluate(train, {k: v[:10] for k, v in test.items()}, 24, 24)
    assert "2 test series have fewer than 24 values, scored on those: S1, S2" in short.notes


def test_short_series_use_the_m4_scale_and_constant_series_are_skipped() -> None:
    # Not longer than M: M4 scales by the lag-1 differences.
    assert metrics.mase_scale(np.array([1.0, 2.0, 4.0]), 24) == 1.5
    train, test = _panel(2, 24 * 10, 24)
    train |= {"flat": np.full(100, 5.0), "one": np.array([3.0]), "three": np.array([1.0, 2.0, 4.0])}
    test |= {"flat": np.full(24, 6.0), "one": np.full(24, 3.0), "three": np.full(24, 4.0)}
    result = evaluate.evaluate(train, test, 24, 24)
    assert result.skipped == ["flat", "one"]
    assert "flat: in-sample seasonal-naive error is 0, MASE undefined: not scored" in result.notes
    assert len(result.mase["ours"]) == 3 and all(np.isfinite(result.mase[m]).all() for m in evaluate.METHODS)
    assert result.forecasts["three"].tolist() == [4.0] * 24  # too short to backtest: naive


def test_the_ratio_survives_a_perfect_seasonal_naive() -> None:
    result = evaluate.Result()
    result.mase |= {"ours": [0.5], "naive": [1.0], "snaive": [0.0]}
    assert result.mase_ratio == float("inf")
    result.mase["ours"] = [0.0]
    assert result.mase_ratio == 1.0


def test_values_too_large_to_score_are_skipped_not_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train, test = _panel(2, 24 * 10, 24)
    wide_csv.write(tmp_path / "train.csv", train | {"big": np.tile([1e308, -1e308, 0.0, 0.0, 0.0], 24)})
    wide_csv.write(tmp_path / "test.csv", test | {"big": np.full(24, 1e308)})
    code, out, err = _cli(capsys, tmp_path / "train.csv", tmp_path / "test.csv", 24, 24)
    assert code == 0 and "big: values too large to score" in err and "Warning" not in err
    assert out.startswith("series=2 ") and "nan" not in out and "inf" not in out


@pytest.mark.parametrize(("h", "m"), [(168, 168), (168, 1), (48, 168), (1, 24)])
def test_long_horizons_and_unusual_seasons_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], h: int, m: int
) -> None:
    train, test = _panel(2, 24 * 7 * 3, h)
    train |= {"tiny": np.array([1.0, 3.0])}
    test |= {"tiny": np.full(h, 2.0)}
    wide_csv.write(tmp_path / "train.csv", train)
    wide_csv.write(tmp_path / "test.csv", test)
    code, out, _ = _cli(capsys, tmp_path / "train.csv", tmp_path / "test.csv", h, m)
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith(f"series=3 horizon={h} season={m}")
    assert np.isfinite(float(lines[-1].removeprefix("mase_ratio=")))
