"""Concurrency caps per cluster (Envoy circuit_breaker.proto): pure accounting + an async queue."""
