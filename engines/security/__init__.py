"""The mesh certificate authority (docs/security.md)."""
