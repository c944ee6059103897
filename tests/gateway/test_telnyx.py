"""Telnyx calls at the gateway: the TeXML webhook's Ed25519 signature, the TeXML answer, and
the media stream's one-time token, over real HTTP and WebSockets and a real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from redis.asyncio import Redis

from functions import asgi_app
from functions.gateway import context as gateway_context
from functions.gateway.asgi import with_media_streams
from harness.telnyx_caller import TelnyxCaller
from tests.support.servers import serving
from tests.support.services import environment
from tests.support.sink import CountingSink
from voicefleet.contracts import Keys
from voicefleet.media_relay import MediaStream

ACCOUNT = "telnyx-account-1"
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


@pytest.fixture
async def gateway(redis: Redis, redis_url: str) -> AsyncIterator[tuple[str, CountingSink]]:
    sink = CountingSink()
    accounts = {ACCOUNT: {"tenant": "acme", "public_key": PUBLIC}}
    async with serving(sink.app) as sink_url:
        env = {"REDIS_URL": redis_url, "K_SINK": sink_url, "VOICEFLEET_API_KEYS": "acme:k",
               "VOICEFLEET_TELNYX_ACCOUNTS": json.dumps(accounts)}  # fmt: skip
        with environment(**env):
            await gateway_context.context.reset()
            try:
                async with serving(with_media_streams(asgi_app("gateway"))) as url:
                    yield url, sink
            finally:
                await gateway_context.context.reset()


def _caller(url: str, key: Ed25519PrivateKey = KEY) -> TelnyxCaller:
    return TelnyxCaller(url, account_sid=ACCOUNT, signing_key=key)


async def test_a_signed_telnyx_call_streams_to_its_session(
    gateway: tuple[str, CountingSink], redis: Redis
) -> None:
    url, sink = gateway
    caller = _caller(url)
    answer = await caller.dial()
    assert answer.status == 200, answer.twiml
    assert answer.stream_url == url.replace("http", "ws") + "/telephony/telnyx/stream"
    assert 'bidirectionalMode="rtp"' in answer.twiml and set(answer.parameters) == {"token"}
    (session_id,) = sink.session_ids
    await caller.connect()
    inbound = MediaStream(redis, Keys.media_in(session_id))
    received: list[object] = []
    async with asyncio.timeout(5):
        while len(received) < 3:
            received += await inbound.receive(1.0)
    start = json.loads(str(received[1]))
    assert start["start"]["call_control_id"] == caller.call_control_id
    assert start["start"]["custom_parameters"] == {}
    await caller.close()
    # The token is spent.
    again = _caller(url)
    again.answer = answer
    await again.connect()
    await asyncio.wait_for(again.closed.wait(), 5)
    assert again.close_code == 1008


async def test_unsigned_forged_or_stale_webhooks_are_refused(
    gateway: tuple[str, CountingSink],
) -> None:
    url, sink = gateway
    assert (await _caller(url).dial(signature="AAAA")).status == 403
    assert (await _caller(url, Ed25519PrivateKey.generate()).dial()).status == 403
    stale = str(int(time.time()) - 600)
    assert (await _caller(url).dial(timestamp=stale)).status == 403
    assert sink.session_ids == set()
