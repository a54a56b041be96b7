"""Benchmarks: latency/throughput suites that print figures (never timed assertions)."""
