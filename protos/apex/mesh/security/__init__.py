"""Shared by sidecar and engines: SPIFFE IDs, X.509 with `cryptography`, secret references (docs/security.md)."""
