"""Reading and writing NAB-format files: `timestamp,value` CSVs and a combined-windows JSON file."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from engines.anomaly.nab_score import parse_timestamp

__all__ = ["NabDataError", "Series", "parse_timestamp"]


class NabDataError(ValueError):
    """Bad input: the message names the file (and row) and the reason."""


# Value cells that mean "no value here": the row is kept (its timestamp may bound a window) and the
# detector sees the last value before it.
MISSING = frozenset({"", "na", "nan", "n/a", "null", "none"})
# More backward steps than this share of a file's rows means it is not in time order at all.
BACKWARD_SHARE = 0.01


@dataclass(frozen=True)
class Series:
    """One data file: its key `category/name.csv`, timestamps as written, values (NaN where a row
    has none), and what was odd about it (one note per kind)."""

    key: str
    timestamps: list[str]
    values: np.ndarray
    notes: tuple[str, ...] = ()


def read_series(path: Path, key: str) -> Series:
    """Read one `timestamp,value` CSV; a bad row raises NabDataError naming the file and row.

    The header's column names are matched without regard to case, spaces or quotes, and other
    columns are ignored; a UTF-8 byte-order mark, CRLF line ends and blank lines are fine. An empty,
    NA or NaN value keeps its row (noted); a few timestamps that go back (NAB's own
    machine_temperature_system_failure.csv has one) are noted and the rows scored in file order, as
    NAB does; a file mostly out of time order is an error.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise NabDataError(f"{path}: empty file (expected a header `timestamp,value`)")
            names = [h.strip().strip('"').strip().lower() for h in header]
            if "timestamp" not in names or "value" not in names:
                raise NabDataError(f"{path}: header {header!r} lacks the columns `timestamp` and `value`")
            ti, vi = names.index("timestamp"), names.index("value")
            stamps: list[str] = []
            values: list[float] = []
            missing: list[int] = []
            back: list[tuple[int, str, str]] = []
            previous: datetime | None = None
            for row_no, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) <= max(ti, vi):
                    raise NabDataError(f"{path}, row {row_no}: {len(row)} columns, expected {len(names)}")
                stamp = row[ti].strip().strip('"').strip()
                try:
                    when = parse_timestamp(stamp)
                except ValueError:
                    raise NabDataError(f"{path}, row {row_no}: unparsable timestamp {stamp!r}") from None
                if previous is not None and when < previous:
                    back.append((row_no, str(previous), str(when)))
                previous = when
                text = row[vi].strip().strip('"').strip()
                if text.lower() in MISSING:
                    missing.append(row_no)
                    value = math.nan
                else:
                    try:
                        value = float(text)
                    except ValueError:
                        raise NabDataError(f"{path}, row {row_no}: value {row[vi]!r} is not a number") from None
                    if not math.isfinite(value):
                        raise NabDataError(f"{path}, row {row_no}: value {row[vi]!r} is not finite")
                stamps.append(stamp)
                values.append(value)
    except OSError as exc:
        raise NabDataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise NabDataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise NabDataError(f"{path}: not a readable CSV file ({exc})") from None
    notes: list[str] = []
    if back and len(back) > max(1.0, BACKWARD_SHARE * len(stamps)):
        row_no, before, after = back[0]
        raise NabDataError(
            f"{path}, row {row_no}: timestamps are not in time order ({len(back)} of {len(stamps)} rows go back, "
            f"the first from {before} to {after}): sort the file by time"
        )
    if back:
        row_no, before, after = back[0]
        notes.append(f"{key}: the timestamp goes back at row {row_no} ({before} -> {after}): rows kept in file order")
    if missing:
        notes.append(
            f"{key}: {len(missing)} row(s) without a value (first at row {missing[0]}): the detector sees the "
            "value before, the output leaves the value empty"
        )
    if not stamps:
        notes.append(f"{key}: no rows")
    return Series(key=key, timestamps=stamps, values=np.asarray(values, dtype=float), notes=tuple(notes))


def _hidden(part: str) -> bool:
    """Folders and files a data set should not contain: `.git`, `.ipynb_checkpoints`, macOS's
    `__MACOSX` and `._name` resource forks (left by unzipping an archive made on a Mac)."""
    return part.startswith(".") or part == "__MACOSX"


def _csv_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".csv" and p.is_file())


def list_files(root: Path) -> list[tuple[str, Path]]:
    """Every `root/<category>/<name>.csv`, as (key, path), sorted by key (hidden folders and files,
    and CSV files at other depths, are left out: see `stray_files`)."""
    if not root.is_dir():
        raise NabDataError(f"{root}: not a directory")
    found = sorted(
        (f"{p.parent.name}/{p.name}", p)
        for p in root.glob("*/*")
        if p.suffix.lower() == ".csv" and p.is_file() and not any(_hidden(s) for s in (p.parent.name, p.name))
    )
    if not found:
        hint = " (NAB's checkout keeps them in its data/ folder: pass ROOT/data)" if (root / "data").is_dir() else ""
        raise NabDataError(f"{root}: no <category>/<name>.csv files{hint}")
    return found


def stray_files(root: Path) -> list[str]:
    """CSV files under `root` that `list_files` leaves out (other depths, hidden), relative to root."""
    data = {p for _, p in list_files(root)}
    return [str(p.relative_to(root)) for p in _csv_files(root) if p not in data]


def read_windows(path: Path) -> dict[str, list[tuple[str, str]]]:
    """The labels file: {"category/name.csv": [[start, end], ...]} (a null list is an empty one)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise NabDataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NabDataError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise NabDataError(f"{path}: expected an object mapping file names to window lists")
    out: dict[str, list[tuple[str, str]]] = {}
    for key, wins in raw.items():
        wins = [] if wins is None else wins
        if not isinstance(wins, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w) for w in wins
        ):
            raise NabDataError(f"{path}: entry {key!r} is not a list of [start, end] timestamp pairs")
        for w in wins:
            for t in w:
                try:
                    parse_timestamp(t)
                except ValueError:
                    raise NabDataError(f"{path}: entry {key!r}: unparsable timestamp {t!r}") from None
        out[key] = [(w[0], w[1]) for w in wins]
    return out


def _label_parts(key: str) -> list[str]:
    """A labels key as path parts without `.csv`: `realX/a.csv`, `data/realX/a`, `a.csv` all work."""
    parts = [p for p in key.strip().replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[-1].lower().endswith(".csv"):
        parts[-1] = parts[-1][:-4]
    return parts


def match_windows(
    labels: dict[str, list[tuple[str, str]]], keys: list[str], source: Path
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """The windows of each file key (`category/name.csv`), and the labels keys that name no file.

    A labels key names a file by its category and name, with or without `.csv` and with any folders
    before them (`data/realX/a.csv`), or by its name alone when that name is unique in ROOT. A name
    found in several categories, or two keys for one file, is an error naming them.
    """
    by_path = {tuple(_label_parts(k)): k for k in keys}
    by_name: dict[str, list[str]] = {}
    for k in keys:
        by_name.setdefault(_label_parts(k)[-1], []).append(k)
    matched: dict[str, list[tuple[str, str]]] = {}
    named_by: dict[str, str] = {}
    absent: list[str] = []
    for label, wins in labels.items():
        parts = _label_parts(label)
        key = by_path.get(tuple(parts[-2:])) if len(parts) >= 2 else None
        if key is None and len(parts) == 1:
            names = by_name.get(parts[0], [])
            if len(names) > 1:
                raise NabDataError(f"{source}: entry {label!r} names {len(names)} files: {', '.join(names)}")
            key = names[0] if names else None
        if key is None:
            absent.append(label)
            continue
        if key in named_by:
            raise NabDataError(f"{source}: entries {named_by[key]!r} and {label!r} both name {key}")
        named_by[key] = label
        matched[key] = wins
    return matched, absent


def write_results(path: Path, series: Series, scores: np.ndarray, alarms: np.ndarray) -> None:
    """`timestamp,value,anomaly_score,alarm` per row (NabDataError naming the path if it cannot be written)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value", "anomaly_score", "alarm"])
            rows = zip(series.timestamps, series.values.tolist(), scores.tolist(), alarms.tolist(), strict=True)
            for t, v, s, a in rows:
                w.writerow([t, repr(v) if math.isfinite(v) else "", f"{s:.6f}", int(a)])
    except OSError as exc:
        raise NabDataError(f"{path}: cannot write ({exc.strerror or exc})") from None
