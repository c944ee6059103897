"""Shared fixtures: a real Redis for every test that needs one.

With `REDIS_URL` set (CI's production-configuration run) the tests use that server;
otherwise they start an embedded Valkey, as the dev stack does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from harness.fake_openai import FakeOpenAI, FakeOpenAIServer
from voicefleet.redis_conn import EmbeddedRedis, connect


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeOpenAIServer]:
    """OpenAI replaced at its network boundary; every bot in the tests (runner processes
    included, through the environment) talks to it unless the LLM is configured already."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def llm_environment(fake_llm_server: FakeOpenAIServer) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_MODEL")}
    os.environ.setdefault("OPENAI_BASE_URL", fake_llm_server.url)
    os.environ.setdefault("OPENAI_MODEL", "fake")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def fake_llm(fake_llm_server: FakeOpenAIServer) -> Iterator[FakeOpenAI]:
    """The shared fake, with an empty script and no requests, restored after the test."""
    fake = fake_llm_server.fake
    fake.script.clear()
    fake.requests.clear()
    yield fake
    fake.script.clear()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    embedded = EmbeddedRedis()
    yield embedded.start()
    embedded.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()
