"""The local dev stack: Redis, gateway, broker and a runner pool that behave like Knative."""
