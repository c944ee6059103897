"""The offline LLM the dev stack starts: llama.cpp's OpenAI-compatible server with SmolLM2."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from devstack.local_llm import MODEL_ALIAS, LocalLLMServer
from devstack.ports import free_port

NOTE_TOOL = {
    "type": "function",
    "function": {
        "name": "bot_create_note",
        "description": "Create a note for the user",
        "parameters": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "content": {"type": "string"}},
            "required": ["title"],
        },
    },
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm() -> AsyncIterator[AsyncOpenAI]:
    server = LocalLLMServer(free_port())
    await server.start()
    try:
        yield AsyncOpenAI(api_key="local", base_url=server.url)
    finally:
        await server.stop()


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_streams_a_chat_answer(llm: AsyncOpenAI) -> None:
    stream = await llm.chat.completions.create(
        model=MODEL_ALIAS,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16,
        stream=True,
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.strip()


async def test_tool_call_arguments_follow_the_schema(llm: AsyncOpenAI) -> None:
    response = await llm.chat.completions.create(
        model=MODEL_ALIAS,
        messages=[{"role": "user", "content": "Create a note called meeting."}],
        tools=[NOTE_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "bot_create_note"}},
        max_tokens=256,
        temperature=0,
    )
    calls = response.choices[0].message.tool_calls or []
    assert calls and calls[0].function.name == "bot_create_note"  # type: ignore[union-attr]
    arguments = json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    assert isinstance(arguments.get("title"), str)
