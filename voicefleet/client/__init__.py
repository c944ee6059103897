"""Python clients for voicefleet's HTTP APIs (used by the tests and the benchmarks)."""
