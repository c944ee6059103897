"""The test and benchmark harness: callers that use the fleet as its users do."""
