"""The gateway: turns a client's request for a bot into a session and a launch CloudEvent."""
