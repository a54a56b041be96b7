"""The control plane: service registry, versioned policy store in Redis, gRPC push server."""
