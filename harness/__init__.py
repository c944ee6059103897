"""What tests and benchmarks share: local stand-ins for the services a deployment calls."""
