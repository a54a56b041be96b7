"""Request authentication with JWTs (docs/security.md): key cache, verification, the layer."""
