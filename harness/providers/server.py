"""Deepgram and OpenAI stand-ins on one loopback port: in a thread, or as their own process.

A bot points at them with `DEEPGRAM_BASE_URL=ws://127.0.0.1:PORT` (the SDK adds `/v1/listen`)
and `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1`. A benchmark runs them as a process of their
own (`python -m harness.providers`), so their CPU, which stands for remote services, is
counted apart from the runners' and the callers'.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from harness.providers.deepgram import DeepgramListen, ScriptedTranscriber, Transcriber
from harness.providers.openai import OpenAIStandIn, Pacing

DEEPGRAM_KEY = "dg-standin-key"
OPENAI_KEY = "sk-standin-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_env(port: int) -> dict[str, str]:
    """What a runner needs to use the stand-ins on `port` as its STT, LLM and TTS."""
    return {
        "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
        "DEEPGRAM_BASE_URL": f"ws://127.0.0.1:{port}",
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "OPENAI_MODEL": "gpt-4o-mini",
        "BOT_TTS_PROVIDER": "openai",
    }


def build_app(deepgram: DeepgramListen, openai: OpenAIStandIn) -> Starlette:
    return Starlette(
        routes=[
            WebSocketRoute("/v1/listen", deepgram.serve),
            Route("/v1/chat/completions", openai.chat, methods=["POST"]),
            Route("/v1/audio/speech", openai.speech, methods=["POST"]),
            Route("/v1/models", openai.models, methods=["GET"]),
        ]
    )


class ProviderServer:
    """The stand-ins, served from a background thread of this process."""

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        *,
        pacing: Pacing | None = None,
        port: int | None = None,
    ) -> None:
        self.deepgram = DeepgramListen(
            transcriber or ScriptedTranscriber("What can you do?"), keys={DEEPGRAM_KEY}
        )
        self.openai = OpenAIStandIn(keys={OPENAI_KEY}, pacing=pacing)
        self.port = port or free_port()
        config = uvicorn.Config(
            build_app(self.deepgram, self.openai),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def bot_env(self) -> dict[str, str]:
        return bot_env(self.port)

    def start(self) -> ProviderServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the provider stand-ins did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
