"""The runner service: takes a launch, runs one bot session, answers when it ends."""
