"""Local servers that speak the wire protocols of the cloud providers a production bot uses.

Deepgram's streaming STT (`deepgram.py`), OpenAI's chat completions and speech (`openai.py`),
served together by `server.py` (in a thread, or as its own process with `python -m
harness.providers`). The bot's real SDK clients reach them through their base-URL settings
(`DEEPGRAM_BASE_URL`, `OPENAI_BASE_URL`), so a test or benchmark runs the production code path
with nothing but the remote service replaced.
"""
