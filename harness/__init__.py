"""What tests and benchmarks share: local stand-ins for the services a deployment calls, and
scripted callers that use the fleet as its users do (`twilio_caller`, `telnyx_caller`)."""
