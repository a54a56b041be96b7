"""Our implementation of the Numenta Anomaly Benchmark scoring rules, applied to 0/1 alarms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

PROBATION_FRACTION = 0.15
PROBATION_CAP_ROWS = 750  # NAB: min(floor(0.15 * rows), 0.15 * 5000)


@dataclass(frozen=True)
class Profile:
    """The weights of one NAB application profile (its cost matrix)."""

    tp: float
    fp: float
    fn: float


# The weights of NAB's config/profiles.json, built in.
PROFILES: Mapping[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


@dataclass(frozen=True)
class FileScore:
    """The raw score of one file under one profile, and what it is made of."""

    score: float
    windows: int  # windows scored (those with at least one row after the probation period)
    detected: int
    false_alarms: int


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: -1 at the window's left edge gives ~0.987, 0 its right edge, >= 3 gives -1."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(rows: int) -> int:
    """Rows at the start of a file that are not scored."""
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_FRACTION * 5000))


_OTHER_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")


def parse_timestamp(text: str) -> datetime:
    """`YYYY-MM-DD HH:MM[:SS[.ffffff]]` (NAB's format), any ISO 8601 form, or `/` as the date separator.

    A time with a zone is converted to UTC and the zone dropped, so it compares with NAB's zone-less
    timestamps (which are taken as UTC). ValueError when none of these forms fits.
    """
    cleaned = text.strip().strip('"').strip()
    try:
        t = datetime.fromisoformat(cleaned)
    except ValueError:
        for form in _OTHER_FORMATS:
            try:
                t = datetime.strptime(cleaned, form)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unparsable timestamp {text!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def window_rows(timestamps: Sequence[str], windows: Sequence[tuple[str, str]]) -> list[tuple[int, int]]:
    """Map each labelled [start, end] to inclusive row indices (see `map_windows`)."""
    return map_windows(timestamps, windows)[0]


def map_windows(
    timestamps: Sequence[str], windows: Sequence[tuple[str, str]]
) -> tuple[list[tuple[int, int]], list[str]]:
    """Each labelled [start, end] as inclusive row indices, sorted, and a note per window mapped inexactly.

    Like NAB, a window starts at the first row whose time equals its start and ends at the first row
    at or after that whose time equals its end; times compare as instants, so `10:50`, `10:50:00` and
    `10:50:00.000000` are one. A window whose ends are not both times of the file (NAB's scorer drops
    or fails on it) covers the rows whose time lies within it, with a note; one with no such row, or
    whose end is before its start, is a ValueError naming it.
    """
    times = [parse_timestamp(t) for t in timestamps]
    rows: list[tuple[int, int]] = []
    notes: list[str] = []
    for start, end in windows:
        s, e = parse_timestamp(start), parse_timestamp(end)
        if e < s:
            raise ValueError(f"window [{start}, {end}]: its end is before its start")
        try:
            i = times.index(s)
            j = times.index(e, i)
        except ValueError:
            inside = [k for k, t in enumerate(times) if s <= t <= e]
            if not inside:
                raise ValueError(
                    f"window [{start}, {end}]: its ends are not timestamps of the file and no row lies between them"
                ) from None
            i, j = inside[0], inside[-1]
            notes.append(
                f"window [{start}, {end}]: its ends are not timestamps of the file: it covers the rows from "
                f"{timestamps[i]} to {timestamps[j]}"
            )
        rows.append((i, j))
    return sorted(rows), notes


def row_weights(rows: int, windows: Sequence[tuple[int, int]], profile: Profile) -> tuple[list[float], list[int]]:
    """Per row: the weighted score an alarm there earns, and the window it falls in (-1: none).

    Inside a window of width w ending at row r, an alarm at row i earns tp * S(-(r - i + 1) / w) / S(-1).
    Outside, it costs fp * S(|i - r'| / (w' - 1)) after the preceding window (r', w'), and -fp before any.
    """
    max_tp = scaled_sigmoid(-1.0)
    weight = [0.0] * rows
    owner = [-1] * rows
    prev_end: int | None = None
    prev_width = 0
    k = 0
    i = 0
    while i < rows:
        if k < len(windows) and i >= windows[k][0]:  # `>=`: a window overlapping the previous one starts here
            start, end = i, windows[k][1]
            if end < start:  # wholly inside the previous window: nothing left of it
                k += 1
                continue
            width = end - windows[k][0] + 1
            for j in range(start, end + 1):
                weight[j] = scaled_sigmoid(-(end - j + 1) / width) * profile.tp / max_tp
                owner[j] = k
            prev_end, prev_width = end, width
            k += 1
            i = end + 1
            continue
        if prev_end is None or prev_width <= 1:
            weight[i] = -profile.fp
        else:
            weight[i] = scaled_sigmoid(abs(prev_end - i) / (prev_width - 1)) * profile.fp
        i += 1
    return weight, owner


def score_file(alarms: Sequence[int], windows: Sequence[tuple[int, int]], profile: Profile) -> FileScore:
    """Score one file's alarms: the first alarm in each window counts, a missed window costs fn, every
    alarm outside a window costs by its distance from the preceding window; the probation is ignored."""
    rows = len(alarms)
    probation = probation_rows(rows)
    weight, owner = row_weights(rows, windows, profile)
    scored = sorted({owner[i] for i in range(probation, rows) if owner[i] >= 0})
    best: dict[int, float] = {}
    fp_total = 0.0
    false_alarms = 0
    for i in range(probation, rows):
        if not alarms[i]:
            continue
        w = owner[i]
        if w < 0:
            fp_total += weight[i]
            false_alarms += 1
        elif w not in best:
            best[w] = weight[i]
    score = fp_total + sum(best.get(w, -profile.fn) for w in scored)
    return FileScore(score=score, windows=len(scored), detected=len(best), false_alarms=false_alarms)


def normalise(raw: float, windows: int, profile: Profile) -> float:
    """100 * (raw - null) / (perfect - null): the null detector (no alarm) scores 0, a perfect one 100."""
    null = -profile.fn * windows
    perfect = profile.tp * windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    files: Sequence[tuple[Sequence[int], Sequence[tuple[int, int]]]],
) -> dict[str, float]:
    """The normalised score of every profile over the files given (alarms, window rows)."""
    out: dict[str, float] = {}
    for name, profile in PROFILES.items():
        raw = 0.0
        windows = 0
        for alarms, wins in files:
            fs = score_file(alarms, wins, profile)
            raw += fs.score
            windows += fs.windows
        out[name] = normalise(raw, windows, profile)
    return out
