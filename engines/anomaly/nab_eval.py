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
    """The detector over one file, its daily period taken from the first timestamps."""
    head = [nab_data.parse_timestamp(t).timestamp() for t in series.timestamps[:64]]
    period = detector.rows_per_day(np.asarray(head))
    return detector.detect(series.values, _with_period(cfg, period))


def _with_period(cfg: detector.DetectorConfig, period: int) -> detector.DetectorConfig:
    from dataclasses import replace

    return replace(cfg, period=period) if cfg.period == 0 else cfg


def evaluate(root: Path, windows_file: Path, out: Path | None) -> EvalResult:
    """Run the detector over ROOT/<category>/<name>.csv, write OUT/<category>/<name>.csv, score the alarms."""
    import time

    labels = nab_data.read_windows(windows_file)
    scored: list[tuple[list[int], list[tuple[int, int]]]] = []
    notes: list[str] = []
    rows = 0
    spent = 0.0
    for key, path in nab_data.list_files(root):
        series = nab_data.read_series(path, key)
        started = time.process_time()
        found = detect_series(series)
        spent += time.process_time() - started
        rows += len(series.values)
        if out is not None:
            nab_data.write_results(out / key, series, found.scores, found.alarms)
        if key not in labels:
            notes.append(f"{key}: not in {windows_file}, not scored")
            continue
        try:
            wins = nab_score.window_rows(series.timestamps, labels[key])
        except ValueError as exc:
            raise nab_data.NabDataError(f"{windows_file}, entry {key!r}: {exc}") from None
        scored.append((found.alarms.tolist(), wins))
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
