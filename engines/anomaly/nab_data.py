"""Reading and writing NAB-format files: `timestamp,value` CSVs and a combined-windows JSON file."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np


class NabDataError(ValueError):
    """Bad input: the message names the file (and row) and the reason."""


@dataclass(frozen=True)
class Series:
    """One data file: its key `category/name.csv`, timestamps as written, and values."""

    key: str
    timestamps: list[str]
    values: np.ndarray


def parse_timestamp(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` (NAB's format; ISO 8601 is accepted too)."""
    return datetime.fromisoformat(text.strip())


def read_series(path: Path, key: str) -> Series:
    """Read one `timestamp,value` CSV; a bad row raises NabDataError naming the file and row."""
    try:
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise NabDataError(f"{path}: empty file (expected a header `timestamp,value`)")
            names = [h.strip() for h in header]
            if "timestamp" not in names or "value" not in names:
                raise NabDataError(f"{path}: header {header!r} lacks the columns `timestamp` and `value`")
            ti, vi = names.index("timestamp"), names.index("value")
            stamps: list[str] = []
            values: list[float] = []
            for row_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) <= max(ti, vi):
                    raise NabDataError(f"{path}, row {row_no}: {len(row)} columns, expected {len(names)}")
                stamp = row[ti].strip()
                try:
                    parse_timestamp(stamp)
                except ValueError:
                    raise NabDataError(f"{path}, row {row_no}: unparsable timestamp {stamp!r}") from None
                try:
                    value = float(row[vi])
                except ValueError:
                    raise NabDataError(f"{path}, row {row_no}: value {row[vi]!r} is not a number") from None
                if not np.isfinite(value):
                    raise NabDataError(f"{path}, row {row_no}: value {row[vi]!r} is not finite")
                stamps.append(stamp)
                values.append(value)
    except OSError as exc:
        raise NabDataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise NabDataError(f"{path}: not a UTF-8 text file") from None
    return Series(key=key, timestamps=stamps, values=np.asarray(values, dtype=float))


def list_files(root: Path) -> list[tuple[str, Path]]:
    """Every `root/<category>/<name>.csv`, as (key, path), sorted by key."""
    if not root.is_dir():
        raise NabDataError(f"{root}: not a directory")
    found = sorted((f"{p.parent.name}/{p.name}", p) for p in root.glob("*/*.csv") if p.is_file())
    if not found:
        raise NabDataError(f"{root}: no <category>/<name>.csv files")
    return found


def read_windows(path: Path) -> dict[str, list[tuple[str, str]]]:
    """The labels file: {"category/name.csv": [[start, end], ...]}."""
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise NabDataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NabDataError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise NabDataError(f"{path}: expected an object mapping file names to window lists")
    out: dict[str, list[tuple[str, str]]] = {}
    for key, wins in raw.items():
        if not isinstance(wins, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w) for w in wins
        ):
            raise NabDataError(f"{path}: entry {key!r} is not a list of [start, end] timestamp pairs")
        out[key] = [(w[0], w[1]) for w in wins]
    return out


def write_results(path: Path, series: Series, scores: np.ndarray, alarms: np.ndarray) -> None:
    """`timestamp,value,anomaly_score,alarm` per row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value", "anomaly_score", "alarm"])
        for t, v, s, a in zip(series.timestamps, series.values.tolist(), scores.tolist(), alarms.tolist(), strict=True):
            w.writerow([t, repr(v), f"{s:.6f}", int(a)])
