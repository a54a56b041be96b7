"""The response cache for unary gRPC calls: sans-IO store, keys, cache-control, coalescing, layer."""
