"""Mesh slow or down in the middle of a tool call: the tool comes back to the LLM as an error
the bot can say, and the call goes on.

Mesh sits behind a stand-in proxy the test controls: it forwards to a real reference Mesh, or
holds each request for 6 s (past the bot's 5 s Mesh timeout), or answers 503, or is stopped
(connection refused). The LLM is the scripted fake at OpenAI's boundary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.fake_openai import FakeOpenAI, Reply
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall
from mesh.app import create_app
from mesh.settings import MeshSettings
from tests.support.servers import free_port, serving

pytestmark = pytest.mark.e2e

SERVICE_TOKEN = "mesh-faults-token"
MESH_PORT = free_port()


class MeshProxy:
    """The Mesh the runners see: `mode` is "ok", "slow" or "unavailable"."""

    def __init__(self, mesh: Any) -> None:
        self.mode = "ok"
        self.writes = 0  # createNote requests that reached the proxy
        self._mesh = httpx.AsyncClient(transport=httpx.ASGITransport(app=mesh), base_url="http://m")
        self.app = Starlette(routes=[Route("/graphql", self._forward, methods=["POST"])])

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        self.writes += b"createNote" in body
        if self.mode == "slow":
            await asyncio.sleep(6)
        if self.mode == "unavailable":
            return JSONResponse({"errors": [{"message": "down for maintenance"}]}, 503)
        upstream = await self._mesh.post("/graphql", content=body, headers=dict(request.headers))
        return Response(upstream.content, upstream.status_code, media_type="application/json")


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(
        "--warm", "1", "--max", "1",
        env={
            "MESH_URL": f"http://127.0.0.1:{MESH_PORT}/graphql",
            "MESH_TOKEN": SERVICE_TOKEN,
            # No prompt after silence: a slow tool call is silence the test does not script.
            "BOT_IDLE_PROMPT_S": "600",
            "BOT_IDLE_END_S": "1200",
        },
    )  # fmt: skip
    yield running
    stop_stack_cleanly(running)


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[MeshProxy]:
    mesh = create_app(
        MeshSettings(database_url=f"sqlite:///{tmp_path / 'mesh.db'}", service_token=SERVICE_TOKEN)
    )
    await mesh.state.prepare()
    standing = MeshProxy(mesh)
    async with serving(standing.app, port=MESH_PORT):
        yield standing
    await mesh.state.engine.dispose()


async def _ask(stack: RunningStack, session_id: str, text: str) -> None:
    """The user's turn, given through the admin channel (no speech recognition needed)."""
    message = {"type": "append_context", "role": "user", "content": text}
    async with httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as http:
        sent = await http.post("/admin", json={"session_id": session_id, "message": message})
        assert sent.status_code == 202, sent.text


def _tool_results(fake: FakeOpenAI) -> list[str]:
    return [
        str(m["content"]) for r in fake.requests for m in r["messages"] if m.get("role") == "tool"
    ]


async def _tool_call_while_mesh_is(
    stack: RunningStack, fake: FakeOpenAI, proxy: MeshProxy, mode: str
) -> float:
    """Seconds from the user's request to the bot's spoken reply, with Mesh in `mode`."""
    fake.script += [
        Reply(tool_calls=[("bot_create_note", {"title": "groceries"})]),
        Reply(text="Sorry, I can't reach your notes right now."),
        Reply(text="I am still here."),
    ]
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(30)
        await call.wait_for_silence(0.8, 30)
        proxy.mode = mode
        asked = time.perf_counter()
        await _ask(stack, call.session_id or "", "Create a note called groceries.")
        assert await call.wait_for_text("can't reach your notes", 60), call.bot_texts()
        replied = time.perf_counter() - asked
        # The call goes on: the next turn is answered too.
        await _ask(stack, call.session_id or "", "Are you there?")
        assert await call.wait_for_text("still here", 30), call.bot_texts()
        assert (await call.session())["status"] == "joined"
    [result] = set(_tool_results(fake))  # one tool call (each later request repeats it)
    # A write that timed out may have been applied: it was sent once, not once per retry.
    assert proxy.writes == 1
    assert result.startswith('{"error": '), result  # what the bot was told, to say
    return replied


async def test_mesh_slow_during_a_tool_call(
    stack: RunningStack, fake_llm: FakeOpenAI, proxy: MeshProxy
) -> None:
    replied = await _tool_call_while_mesh_is(stack, fake_llm, proxy, "slow")
    print(f"\nMesh slow: the bot answered {replied:.1f}s after the request")


async def test_mesh_down_during_a_tool_call(
    stack: RunningStack, fake_llm: FakeOpenAI, proxy: MeshProxy
) -> None:
    replied = await _tool_call_while_mesh_is(stack, fake_llm, proxy, "unavailable")
    print(f"\nMesh down (503): the bot answered {replied:.1f}s after the request")
