"""A cluster: its runtime state (loads, caps, ejection, health) and the balancer service over its endpoints."""
