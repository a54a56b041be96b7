"""Wide CSV series files as in the M4 competition: a header row, then `id, v1, v2, …` per row."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class SeriesFileError(ValueError):
    """A series file that cannot be read; the message names the file, row and reason."""


def read(path: str | Path) -> dict[str, Array]:
    """Every series in the file by id, in file order (empty cells are skipped)."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise SeriesFileError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SeriesFileError(f"{p}: cannot read: {exc}") from None
    if not rows:
        raise SeriesFileError(f"{p}: empty file (a header row and one row per series are expected)")
    out: dict[str, Array] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        sid = row[0].strip()
        if not sid:
            raise SeriesFileError(f"{p}:{line}: the first cell (the series id) is empty")
        if sid in out:
            raise SeriesFileError(f"{p}:{line}: series {sid!r} appears twice")
        values = []
        for col, cell in enumerate(row[1:], start=2):
            text = cell.strip().strip('"')
            if not text:
                continue
            try:
                v = float(text)
            except ValueError:
                raise SeriesFileError(
                    f"{p}:{line}: series {sid!r} column {col}: {text[:40]!r} is not a number"
                ) from None
            if not math.isfinite(v):
                raise SeriesFileError(f"{p}:{line}: series {sid!r} column {col}: {text!r} is not finite")
            values.append(v)
        out[sid] = np.asarray(values, dtype=np.float64)
    if not out:
        raise SeriesFileError(f"{p}: no series (only a header row)")
    return out


def write(path: str | Path, series: dict[str, Array], prefix: str = "F") -> None:
    """Write series as a wide CSV with header `id,F1,F2,…` (ragged rows padded with empty cells)."""
    width = max((len(v) for v in series.values()), default=0)
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id"] + [f"{prefix}{i}" for i in range(1, width + 1)])
        for sid, values in series.items():
            cells = [repr(float(v)) if math.isfinite(v) else "" for v in values]
            w.writerow([sid] + cells + [""] * (width - len(cells)))
