"""The tests' LLM: a scripted OpenAI-compatible server on a loopback port, from a thread.

It is the OpenAI stand-in of harness/providers/openai.py, unpaced and taking any key (as a
local OpenAI-compatible server does): each request takes the next scripted reply (text, or
tool calls streamed the way OpenAI streams them), or makes it from what the user last said (a
test of what the STT heard), else a default line; every request is kept so tests can see
what the bot sent.
"""

from __future__ import annotations

import threading
import time

import uvicorn

from devstack.ports import free_port
from harness.providers.openai import DEFAULT_REPLY, Reply, Scripted
from harness.providers.openai import OpenAIStandIn as FakeOpenAI

__all__ = ["DEFAULT_REPLY", "FakeOpenAI", "FakeOpenAIServer", "Reply", "Scripted"]


class FakeOpenAIServer:
    """Serves a FakeOpenAI on a loopback port from a background thread (for subprocesses)."""

    def __init__(self) -> None:
        self.fake = FakeOpenAI()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(self.fake.app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
