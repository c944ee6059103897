"""The admin function: operators talk to running bots (messages, session list)."""
