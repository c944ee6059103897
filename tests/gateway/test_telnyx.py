"""Telnyx calls at the gateway: the TeXML webhook's Ed25519 signature, the TeXML answer, the
media stream's one-time token, and "all lines are busy" for a call no runner took, over real
HTTP and WebSockets and a real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from redis.asyncio import Redis

from functions.gateway.twiml import BUSY_MESSAGE
from harness.telnyx_caller import TelnyxCaller
from tests.support.servers import serving
from tests.support.services import phone_gateway
from tests.support.sink import CountingSink
from voicefleet.contracts import Keys
from voicefleet.media_relay import MediaStream

ACCOUNT = "telnyx-account-1"
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


@asynccontextmanager
async def _gateway(redis_url: str, **extra: str) -> AsyncIterator[tuple[str, CountingSink]]:
    sink = CountingSink()
    accounts = {ACCOUNT: {"tenant": "acme", "public_key": PUBLIC}}
    async with serving(sink.app) as sink_url:
        env = {"REDIS_URL": redis_url, "K_SINK": sink_url, "VOICEFLEET_API_KEYS": "acme:k",
               "VOICEFLEET_TELNYX_ACCOUNTS": json.dumps(accounts), **extra}  # fmt: skip
        async with phone_gateway(**env) as url:
            yield url, sink


@pytest.fixture
async def gateway(redis: Redis, redis_url: str) -> AsyncIterator[tuple[str, CountingSink]]:
    async with _gateway(redis_url) as running:
        yield running


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


async def test_a_call_no_runner_takes_hears_lines_busy_after_its_stream(
    redis: Redis, redis_url: str
) -> None:
    async with _gateway(redis_url, VOICEFLEET_QUEUE_TIMEOUT_S="0.5") as (url, sink):
        caller = _caller(url)
        answer = await caller.dial()
        # TeXML's <Connect> has no action: a <Redirect> after it asks what next.
        assert answer.redirect_url == url + "/telephony/telnyx/after-stream", answer.twiml
        (session_id,) = sink.session_ids
        await caller.connect()
        # While the call runs, the redirect would just hang up.
        assert (await caller.follow_redirect()).said == []
        # No runner takes the session: it fails (the sweep runs on a session read), the
        # stream is closed, and the redirect says that lines are busy, then hangs up.
        async with httpx.AsyncClient(base_url=url) as http:
            async with asyncio.timeout(30):
                while True:
                    got = await http.get(
                        f"/sessions/{session_id}", headers={"Authorization": "Bearer k"}
                    )
                    if got.json()["status"] == "failed":
                        break
                    await asyncio.sleep(0.2)
        assert got.json()["reason"].startswith("no capacity")
        await asyncio.wait_for(caller.closed.wait(), 30)
        busy = await caller.follow_redirect()
        assert busy.status == 200 and busy.said == [BUSY_MESSAGE] and busy.hangs_up
        await caller.close()
        # The redirect is a signed webhook like any other.
        forger = _caller(url, Ed25519PrivateKey.generate())
        forger.answer = answer
        assert (await forger.follow_redirect()).status == 403
