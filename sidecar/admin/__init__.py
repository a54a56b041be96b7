"""The admin listener: grpc.health.v1 plus the Admin service (config dump, counters)."""
