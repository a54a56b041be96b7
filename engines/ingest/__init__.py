"""Telemetry ingestion: consumer-group readers of the sidecars' Redis Streams."""
