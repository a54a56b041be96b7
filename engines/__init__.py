"""Central engines: control plane, telemetry ingestion, forecasting (and tuning, to come)."""
