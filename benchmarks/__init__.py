"""Benchmarks: latency, throughput and CPU figures for the sidecar (results in RESULTS.md)."""
