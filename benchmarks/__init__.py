"""Benchmarks: the latency suite (`apex bench`, `make bench`), focused benchmarks, results in RESULTS.md."""
