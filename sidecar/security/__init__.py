"""Workload identity and mTLS: SPIFFE IDs, certificates, trust bundles and peer checks (docs/security.md)."""
