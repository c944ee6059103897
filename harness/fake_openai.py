"""A scripted OpenAI-compatible chat server: the LLM's network boundary in tests.

Each request takes the next scripted reply (text, or tool calls streamed the way OpenAI
streams them: the name first, then the arguments in pieces), or makes it from what the user
last said (a test of what the STT heard); with the script empty it answers a default line.
It records every request so tests can see what the bot sent.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from devstack.ports import free_port

DEFAULT_REPLY = "I can take notes, answer questions and keep you company."


@dataclass
class Reply:
    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


# A reply, or a function of the user's last message that makes one.
Scripted = Reply | Callable[[str], Reply]


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[Scripted] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def user_texts(self) -> list[str]:
        """What the bot sent as user turns, in order."""
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

    async def _models(self, _: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.requests.append(body)
            scripted = self.script.pop(0) if self.script else Reply(text=DEFAULT_REPLY)
        reply = scripted if isinstance(scripted, Reply) else scripted(_last_user_text(body))
        chunks = list(_chunks(reply, body.get("model", "fake")))
        if not body.get("stream"):
            return JSONResponse(_complete(reply, body.get("model", "fake")))

        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(_usage_chunk(body, reply))

        async def stream() -> Any:
            for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _chunks(reply: Reply, model: str) -> Any:
    yield _chunk(model, {"role": "assistant", "content": ""})
    if reply.text:
        for word in reply.text.split(" "):
            yield _chunk(model, {"content": word + " "})
    for index, (name, arguments) in enumerate(reply.tool_calls):
        call_id = f"call_{uuid.uuid4().hex[:8]}"
        head = {"index": index, "id": call_id, "type": "function"}
        yield _chunk(model, {"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]})
        text = json.dumps(arguments)
        for i in range(0, len(text), 8):
            part = {"index": index, "function": {"arguments": text[i : i + 8]}}
            yield _chunk(model, {"tool_calls": [part]})
    yield _chunk(model, {}, "tool_calls" if reply.tool_calls else "stop")


def _usage_chunk(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The last chunk OpenAI streams when asked to include usage: no choices, token counts
    (words stand in for tokens here)."""
    prompt = sum(len(json.dumps(m.get("content") or "").split()) for m in body.get("messages", []))
    completion = len((reply.text or "").split()) + sum(
        len(json.dumps(args).split()) for _, args in reply.tool_calls
    )
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _complete(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


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
