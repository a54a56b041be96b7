"""Wide CSV series files as in the M4 competition: a header row, then `id, v1, v2, …` per row."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


class SeriesFileError(ValueError):
    """A series file that cannot be read; the message names the file, row and reason."""


# Cells that mean "no value" (R writes NA, pandas NaN or an empty cell). The format ignores them: after a
# series' last value they pad a ragged row; inside a series they are skipped too, with a note (the later
# values move up one step, which is what "empty cells ignored" means, so the reader says where it happened).
MISSING = frozenset({"", "na", "nan", "n/a", "#n/a", "null", "none"})


def read(path: str | Path, notes: list[str] | None = None) -> dict[str, Array]:
    """Every series in the file by id, in file order.

    The first row is the header. Ids and cells may be quoted and padded with spaces; a UTF-8
    byte-order mark and CRLF line ends are fine; blank lines are skipped. Empty or NA cells are
    ignored: after a row's last value they are padding (rows may be ragged); one followed by a value
    is skipped as well, and a line naming the series and columns is appended to `notes`. A cell that
    is not a number, an infinite value, a duplicate id and a first row that holds a series rather
    than a header are errors.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise SeriesFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise SeriesFileError(f"{p}: is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise SeriesFileError(f"{p}: not a UTF-8 text file") from None
    except (OSError, csv.Error) as exc:
        raise SeriesFileError(f"{p}: cannot read: {exc}") from None
    if not rows:
        raise SeriesFileError(f"{p}: empty file (a header row and one row per series are expected)")
    _check_header(p, rows[0])
    out: dict[str, Array] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = [_unquote(cell) for cell in row]
        if not any(cells):
            continue
        sid = cells[0]
        if not sid:
            raise SeriesFileError(f"{p}:{line}: the first cell (the series id) is empty")
        if sid in out:
            raise SeriesFileError(f"{p}:{line}: series {sid!r} appears twice")
        if len(cells) == 1 and any(sep in sid for sep in ";\t"):
            raise SeriesFileError(f"{p}:{line}: no comma in the row: the cells must be separated by commas")
        out[sid] = _values(p, line, sid, cells[1:], notes)
    if not out:
        raise SeriesFileError(f"{p}: no series (only a header row)")
    return out


def _unquote(cell: str) -> str:
    """A cell without surrounding spaces and quotes (`"H1"`, ` "605"` after a space, ` 12 `)."""
    return cell.strip().strip('"').strip()


def _values(p: Path, line: int, sid: str, cells: list[str], notes: list[str] | None) -> Array:
    """The values of one row (cells after the id), trailing padding dropped, gaps skipped and noted."""
    last = len(cells)
    while last and cells[last - 1].lower() in MISSING:
        last -= 1
    values = []
    gaps = []
    for col, text in enumerate(cells[:last], start=2):
        if text.lower() in MISSING:
            gaps.append(col)
            continue
        try:
            v = float(text)
        except ValueError:
            raise SeriesFileError(f"{p}:{line}: series {sid!r} column {col}: {text[:40]!r} is not a number") from None
        if not math.isfinite(v):
            raise SeriesFileError(f"{p}:{line}: series {sid!r} column {col}: {text!r} is not finite")
        values.append(v)
    if gaps and notes is not None:
        shown = ", ".join(map(str, gaps[:5])) + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else "")
        notes.append(f"{p}:{line}: series {sid!r}: {len(gaps)} empty or NA cell(s) inside the series ignored "
                     f"(column {shown}); the values after them follow on without a gap")  # fmt: skip
    return np.asarray(values, dtype=np.float64)


def _check_header(p: Path, header: list[str]) -> None:
    """The first row must be a header: a row with an id and then numbers other than column numbers
    (`1,2,3…`) is a series, and reading on would silently drop it."""
    cells = [_unquote(c) for c in header[1:]]
    cells = cells[: len(cells) - next((i for i, c in enumerate(reversed(cells)) if c), len(cells))]
    if not cells or not all(_is_number(c) for c in cells):
        return
    first = _unquote(header[0]) if header else ""
    numbers = [float(c) for c in cells]
    consecutive = numbers[0].is_integer() and all(b - a == 1.0 for a, b in itertools.pairwise(numbers))
    if not first or (consecutive and (len(numbers) > 1 or numbers[0] in (0, 1))):
        return  # column numbers (pandas writes an empty first cell and 0, 1, 2… or a slice's numbers)
    raise SeriesFileError(
        f"{p}:1: the first row looks like a series ({first!r} then numbers), not a header row: "
        "M4-style files start with a header such as `id,V1,V2,...`"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write(path: str | Path, series: dict[str, Array], prefix: str = "F") -> None:
    """Write series as a wide CSV with header `id,F1,F2,…` (ragged rows padded with empty cells)."""
    width = max((len(v) for v in series.values()), default=0)
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id"] + [f"{prefix}{i}" for i in range(1, width + 1)])
        for sid, values in series.items():
            cells = [repr(float(v)) if math.isfinite(v) else "" for v in values]
            w.writerow([sid] + cells + [""] * (width - len(cells)))
