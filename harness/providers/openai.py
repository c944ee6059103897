"""OpenAI's chat completions and speech endpoints as a local server, paced like the real ones.

`POST /v1/chat/completions` streams Server-Sent Events as OpenAI does: a role chunk, content
deltas token by token, tool calls (the name first, then the arguments in pieces), a
`finish_reason`, a usage chunk when `stream_options.include_usage` asks for one, then
`data: [DONE]`; without `stream` it answers the whole completion. `POST /v1/audio/speech`
answers 16-bit mono PCM at 24 kHz (`response_format: pcm`, what Pipecat asks for) in chunks.
Both want `Authorization: Bearer <key>` (401 otherwise; with `keys=None` any key does, as on
a local OpenAI-compatible server) and refuse malformed bodies with a 400 and OpenAI's error
shape.

`Pacing` makes them take the time the real services take: the first token after
`first_token_s`, then `tokens_per_s`; the first audio after `tts_first_audio_s`, then audio
faster than real time by `tts_speedup`. The defaults are unpaced, for tests that only need
the protocol. Replies are scripted (`script`: a reply, or a function of what the user last
said), else a default line; every request is kept.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_REPLY = "I can take notes, answer questions and keep you company."
TTS_RATE = 24000
TTS_CHUNK_S = 0.1
SECONDS_PER_CHAR = 0.065  # about how fast OpenAI's voices speak (15 characters a second)
VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
          "verse", "marin", "cedar"}  # fmt: skip


@dataclass
class Pacing:
    first_token_s: float = 0.0
    tokens_per_s: float | None = None  # None: every token at once
    tts_first_audio_s: float = 0.0
    tts_speedup: float | None = None  # audio seconds per wall second; None: all at once

    @classmethod
    def like_the_services(cls) -> Pacing:
        """About what OpenAI's services take: 300 ms to a first token, then 50 tokens a second;
        200 ms to a first chunk of speech, then audio at four times real time."""
        return cls(first_token_s=0.3, tokens_per_s=50, tts_first_audio_s=0.2, tts_speedup=4.0)


@dataclass
class Reply:
    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


# A reply, or a function of the user's last message that makes one (a test of what the STT
# heard answers with it).
Scripted = Reply | Callable[[str], Reply]


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status)


class OpenAIStandIn:
    def __init__(self, *, keys: set[str] | None = None, pacing: Pacing | None = None) -> None:
        self.keys = keys
        self.pacing = pacing or Pacing()
        self.script: list[Scripted] = []
        self.requests: list[dict[str, Any]] = []  # chat completions, in order
        self.speech_requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def user_texts(self) -> list[str]:
        """What the bot sent as user turns, in order, each once."""
        with self._lock:
            requests = list(self.requests)
        texts: list[str] = []
        for request in requests:
            for message in request.get("messages", []):
                if message.get("role") == "user":
                    content = message.get("content")
                    text = content if isinstance(content, str) else json.dumps(content)
                    if text not in texts:
                        texts.append(text)
        return texts

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/audio/speech", self.speech, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(key) and (self.keys is None or key in self.keys)

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def models(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return JSONResponse({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})

    async def chat(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = await self._body(request)
        if body is None or not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' must be a non-empty array")
        model = str(body.get("model", "gpt-4o-mini"))
        with self._lock:
            self.requests.append(body)
            scripted = self.script.pop(0) if self.script else Reply(text=DEFAULT_REPLY)
        reply = scripted if isinstance(scripted, Reply) else scripted(_last_user_text(body))
        prompt_tokens = sum(len(_tokens(json.dumps(m))) for m in body["messages"])
        if not body.get("stream"):
            await asyncio.sleep(self.pacing.first_token_s)
            return JSONResponse(_completion(reply, model, prompt_tokens))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._stream(reply, model, prompt_tokens, usage), media_type="text/event-stream"
        )

    async def _stream(
        self, reply: Reply, model: str, prompt_tokens: int, usage: bool
    ) -> AsyncIterator[str]:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        pace = self.pacing
        gap = 1 / pace.tokens_per_s if pace.tokens_per_s else 0.0
        await asyncio.sleep(pace.first_token_s)
        completion_tokens = 0
        for delta in _deltas(reply):
            completion_tokens += 1
            yield _sse(_chunk(completion_id, model, delta))
            if gap:
                await asyncio.sleep(gap)
        finish = "tool_calls" if reply.tool_calls else "stop"
        yield _sse(_chunk(completion_id, model, {}, finish))
        if usage:
            counts = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
            yield _sse({**_chunk(completion_id, model, {}), "choices": [], "usage": counts})
        yield "data: [DONE]\n\n"

    async def speech(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        body = await self._body(request)
        if body is None or not isinstance(body.get("input"), str) or not body["input"].strip():
            return _error(400, "'input' must be a non-empty string")
        if len(body["input"]) > 4096:
            return _error(400, "'input' is longer than 4096 characters")
        if body.get("voice") not in VOICES:
            return _error(400, f"unknown voice {body.get('voice')!r}")
        if body.get("response_format", "mp3") != "pcm":
            return _error(400, "only response_format 'pcm' is served by this stand-in")
        with self._lock:
            self.speech_requests.append(body)
        return StreamingResponse(self._audio(body["input"]), media_type="audio/pcm")

    async def _audio(self, text: str) -> AsyncIterator[bytes]:
        pcm = spoken_like(text)
        chunk = int(TTS_RATE * TTS_CHUNK_S) * 2
        pace = self.pacing
        await asyncio.sleep(pace.tts_first_audio_s)
        for i in range(0, len(pcm), chunk):
            yield pcm[i : i + chunk]
            if pace.tts_speedup:
                await asyncio.sleep(TTS_CHUNK_S / pace.tts_speedup)


def spoken_like(text: str) -> bytes:
    """Audio as long as `text` would take to say: a voiced tone (140 Hz and its harmonics)
    rising and falling at a syllable rate, with a short pause at each word break, so a
    listener's level meter and a VAD see speech."""
    seconds = max(0.3, len(text) * SECONDS_PER_CHAR)
    t = np.arange(int(TTS_RATE * seconds)) / TTS_RATE
    voice = sum(np.sin(2 * math.pi * 140 * k * t) / k for k in (1, 2, 3))
    syllables = 0.55 + 0.45 * np.sin(2 * math.pi * 4 * t)
    pcm = (voice * syllables * 6000).astype(np.int16)
    return bytes(pcm.tobytes())


def _tokens(text: str) -> list[str]:
    """Roughly how a tokenizer splits text: words with their leading space, punctuation apart."""
    return re.findall(r"\s*\w+|\s*[^\w\s]", text)


def _deltas(reply: Reply) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": token} for token in _tokens(reply.text or "")]
    for index, (name, arguments) in enumerate(reply.tool_calls):
        head = {"index": index, "id": f"call_{uuid.uuid4().hex[:24]}", "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]})
        for piece in _tokens(json.dumps(arguments)):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def _chunk(
    completion_id: str, model: str, delta: dict[str, Any], finish: str | None = None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_standin",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _completion(reply: Reply, model: str, prompt_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]  # fmt: skip
    completion_tokens = len(_tokens(reply.text or ""))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip
