"""The bot: a Pipecat pipeline assembled per session from preloaded parts."""
