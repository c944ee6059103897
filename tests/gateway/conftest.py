"""The gateway function over real HTTP, as functions-framework serves it, against a real Redis.

A capture sink stands in for the broker (K_SINK) and records the launch CloudEvents; a fake
Daily REST API stands in for Daily; a fake runner answers signalling through Redis as the real
runner does. Every test asserts what a client or an operator would see.

The sink and the gateway are served once for each test module (uvicorn takes ~0.2 s to stop a
server); each test gets fresh settings (the gateway rebuilds its context from the environment
on the next request), an empty Redis and an empty sink.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import pytest_asyncio

from functions import asgi_app
from functions.gateway import context as gateway_context
from tests.gateway.client import OFFER_TIMEOUT_S, Gateway, GatewayFactory
from tests.support.servers import serving
from tests.support.sink import CaptureSink
from voicefleet.http_client import async_client
from voicefleet.redis_conn import connect


async def _forget_context() -> None:
    await gateway_context.context.reset()


@dataclass
class Servers:
    sink: CaptureSink
    sink_url: str
    gateway_url: str


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def servers() -> AsyncIterator[Servers]:
    """The capture sink and the gateway (functions-framework's ASGI app), over real HTTP."""
    sink = CaptureSink()
    app = asgi_app("gateway")
    async with serving(sink.app) as sink_url, serving(app) as gateway_url:
        yield Servers(sink=sink, sink_url=sink_url, gateway_url=gateway_url)
        await _forget_context()


@pytest_asyncio.fixture(loop_scope="module")
async def make_gateway(
    servers: Servers, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[GatewayFactory]:
    """Configures the gateway with extra env settings, on an empty Redis and an empty sink."""
    redis = connect(redis_url)
    await redis.flushdb()
    servers.sink.reset()

    @asynccontextmanager
    async def configure(**env: str) -> AsyncIterator[Gateway]:
        for name in ("VOICEFLEET_API_KEY", "VOICEFLEET_ICE_SERVERS", "DAILY_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        settings = {
            "REDIS_URL": redis_url,
            "VOICEFLEET_API_KEYS": "acme:key-acme,globex:key-globex",
            "K_SINK": servers.sink_url,
            "VOICEFLEET_ALLOWED_ROOM_HOSTS": "*.daily.co",
            "VOICEFLEET_OFFER_TIMEOUT_S": str(OFFER_TIMEOUT_S),
            **env,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        await _forget_context()
        try:
            async with async_client(base_url=servers.gateway_url) as http:
                yield Gateway(http=http, sink=servers.sink, redis=redis, redis_url=redis_url)
        finally:
            await _forget_context()

    try:
        yield configure
    finally:
        await redis.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(make_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    async with make_gateway() as gw:
        yield gw
