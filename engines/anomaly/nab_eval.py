"""One NAB-format evaluation: detect over every file, write the results, score the alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engines.anomaly import detector, nab_data, nab_score


@dataclass
class EvalResult:
    """The three normalised scores and what they cover."""

    scores: dict[str, float]
    files: int
    rows: int
    windows: int
    notes: list[str] = field(default_factory=list)
    detect_seconds: float = 0.0


def detect_series(series: nab_data.Series, cfg: detector.DetectorConfig = detector.DEFAULT) -> detector.Detection:
    """The detector over one file, its daily period taken from the first timestamps (rows without a
    value carry the previous value, see `carried`)."""
    head = [nab_data.parse_timestamp(t).timestamp() for t in series.timestamps[:64]]
    period = detector.rows_per_day(np.asarray(head))
    return detector.detect(carried(series.values), _with_period(cfg, period))


def carried(values: np.ndarray) -> np.ndarray:
    """NaN entries replaced by the last value before them (the first value for leading ones, 0 when
    there is none): the detector stays online and a missing reading is not an anomaly by itself."""
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    if ok.all():
        return x
    if not ok.any():
        return np.zeros_like(x)
    last = np.maximum.accumulate(np.where(ok, np.arange(len(x)), -1))
    last[last < 0] = int(np.argmax(ok))
    return np.asarray(x[last], dtype=float)


def _with_period(cfg: detector.DetectorConfig, period: int) -> detector.DetectorConfig:
    from dataclasses import replace

    return replace(cfg, period=period) if cfg.period == 0 else cfg


def evaluate(root: Path, windows_file: Path, out: Path | None) -> EvalResult:
    """Run the detector over ROOT/<category>/<name>.csv, write OUT/<category>/<name>.csv, score the alarms.

    Files of ROOT without labels are written but not scored; labelled files absent from ROOT are
    named in a note and the scores cover the files scored; no file in common is an error.
    """
    import time

    labels = nab_data.read_windows(windows_file)
    files = nab_data.list_files(root)
    matched, absent = nab_data.match_windows(labels, [key for key, _ in files], windows_file)
    if not matched and labels:
        raise nab_data.NabDataError(
            f"{windows_file}: none of its {len(labels)} entries names one of the {len(files)} files in {root} "
            f"(entries look like {next(iter(labels))!r}, files like {files[0][0]!r})"
        )
    scored: list[tuple[list[int], list[tuple[int, int]]]] = []
    notes: list[str] = []
    stray = nab_data.stray_files(root)
    if stray:
        notes.append(f"{len(stray)} CSV file(s) not at ROOT/<category>/<name>.csv ignored: {_some(stray)}")
    rows = 0
    spent = 0.0
    for key, path in files:
        series = nab_data.read_series(path, key)
        notes.extend(series.notes)
        started = time.process_time()
        found = detect_series(series)
        spent += time.process_time() - started
        rows += len(series.values)
        if out is not None:
            nab_data.write_results(out / key, series, found.scores, found.alarms)
        if key not in matched:
            notes.append(f"{key}: not in {windows_file}, not scored")
            continue
        try:
            wins, inexact = nab_score.map_windows(series.timestamps, matched[key])
        except ValueError as exc:
            raise nab_data.NabDataError(f"{windows_file}, entry {key!r}: {exc}") from None
        notes.extend(f"{key}: {note}" for note in inexact)
        scored.append((found.alarms.tolist(), wins))
    if absent:
        notes.append(
            f"{len(absent)} labelled file(s) not in {root}, not scored: {_some(absent)}; "
            f"the scores cover the {len(scored)} files scored"
        )
    windows = sum(nab_score.score_file(a, w, nab_score.PROFILES["standard"]).windows for a, w in scored)
    if windows == 0:
        notes.append("no labelled window after the probation periods: every score is 0")
    return EvalResult(
        scores=nab_score.score_corpus(scored),
        files=len(scored),
        rows=rows,
        windows=windows,
        notes=notes,
        detect_seconds=spent,
    )


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
