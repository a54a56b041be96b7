"""Example services used by the README, the conformance suite, the benchmarks and the demo."""
