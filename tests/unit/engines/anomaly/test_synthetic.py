"""The synthetic corpora: seeded, labelled the NAB way, and the telemetry-shaped one looks like telemetry."""

from __future__ import annotations

import numpy as np

from engines.anomaly import synthetic


def test_corpora_are_seeded_and_the_traffic_corpus_is_unchanged_by_the_service_one() -> None:
    a = synthetic.corpus(3)
    b = synthetic.corpus(3)
    assert [i.name for i in a] == [i.name for i in b]
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    s1, s2 = synthetic.service_corpus(3), synthetic.service_corpus(3)
    assert all(np.array_equal(x.values, y.values) for x, y in zip(s1, s2, strict=True))
    assert not np.array_equal(synthetic.service_corpus(4)[0].values, s1[0].values)


def test_service_corpus_labels_and_shapes() -> None:
    rows = 4032
    items = {i.name: i for i in synthetic.service_corpus(0, rows)}
    assert sum(1 for i in items.values() if not i.windows) == 2
    for item in items.values():
        assert len(item.values) == rows and np.all(np.isfinite(item.values))
        for lo, hi in item.windows:  # NAB's rule: 10% of the file around the one anomaly
            assert 0 <= lo < hi < rows and hi - lo == int(0.1 * rows) // 2 * 2
            assert int(0.15 * rows) < (lo + hi) // 2  # after the probation
    cpu = items["quiet_cpu"].values
    assert cpu.min() >= 0 and cpu.max() <= 100
    lag1 = np.corrcoef(cpu[:-1], cpu[1:])[0, 1]
    assert lag1 > 0.5  # autocorrelated like host metrics, not white noise
    erratic = items["latency_erratic"]
    s = (erratic.windows[0][0] + erratic.windows[0][1]) // 2  # the window is centred on the incident
    before, after = erratic.values[s - 600 : s], erratic.values[s:]
    assert abs(np.median(after) / np.median(before) - 1) < 0.2  # the median stays...
    assert np.std(np.log(after)) > 1.5 * np.std(np.log(before))  # ...while the spread grows
