"""`apex tune scenario`: a tuning scenario file run with real processes (Redis, control plane, sidecar, upstreams)."""
