"""A short run of the mTLS cost benchmark: every figure is measured over calls that succeeded, on both transports."""

from __future__ import annotations

import asyncio

from benchmarks import mtls_cost


def test_a_short_run_measures_every_figure_on_both_transports() -> None:
    figures = asyncio.run(mtls_cost.measure(mtls_cost.TRANSPORTS, 100, 10, 1, 2, 2))
    for transport in mtls_cost.TRANSPORTS:
        for mtls in (False, True):
            assert figures.per_call_us[(transport, mtls)] > 0
            cpu, wall = figures.handshake[(transport, mtls)]
            assert cpu > 0 and wall > 0
        cpu, wall, calls, failed = figures.rotation[transport]
        assert cpu > 0 and calls > 0 and failed == 0
    text = mtls_cost.report(figures, mtls_cost.TRANSPORTS)
    assert text.count("mTLS/plaintext") == 2 and "0 failed" in text
