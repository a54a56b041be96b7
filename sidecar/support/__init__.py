"""Process helpers shared by tests, the demo and the benchmarks (Redis server, free ports)."""
