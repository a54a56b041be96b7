"""`apex eval nab`: run the online anomaly detector over NAB-format files and score its alarms."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add `nab` to the `apex eval` subcommands."""
    p: argparse.ArgumentParser = sub.add_parser(
        "nab",
        help="detect anomalies online in NAB-format files and score the alarms with the NAB rules",
        description="Run the detector online over every ROOT/<category>/<name>.csv (timestamp,value), write "
        "DIR/<category>/<name>.csv with timestamp,value,anomaly_score,alarm, and score the alarm column with "
        "the NAB rules (15%% probation, labelled windows, scaled sigmoid, the three profiles, normalised so "
        "no alarm scores 0 and a perfect detector 100). Prints a JSON object of the three scores; the last "
        "line is standard=NN.NN.",
    )
    p.add_argument("--data", required=True, metavar="ROOT", help="folder of <category>/<name>.csv files")
    p.add_argument(
        "--windows", required=True, metavar="FILE", help='labels: {"category/name.csv": [[start, end], ...]}'
    )
    p.add_argument("--out", required=True, metavar="DIR", help="where the scored files are written")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from engines.anomaly import nab_eval
    from engines.anomaly.nab_data import NabDataError

    try:
        started = time.perf_counter()
        result = nab_eval.evaluate(Path(args.data), Path(args.windows), Path(args.out))
        elapsed = time.perf_counter() - started
    except NabDataError as exc:
        print(f"apex eval nab: {exc}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"{result.files} files, {result.rows} rows, {result.windows} windows scored in {elapsed:.1f} s",
        file=sys.stderr,
    )
    print(json.dumps({k: round(v, 2) for k, v in result.scores.items()}, indent=2))
    print(f"standard={result.scores['standard']:.2f}")
    return 0
