"""The functions the LLM can call. Each module lists its `TOOLS`; `bot/toolbox.py` collects them.

A tool is thin: its schema, argument extraction, the session's context, one action, one
event to the interface, and the result the LLM speaks from. Logic lives in `bot/actions/`.
"""
