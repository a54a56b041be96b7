"""Observability: mergeable histograms, metric registry, telemetry windows, Redis publisher, tracing, logs."""
