"""The gateway as its tests call it: the tenants' keys, a client over real HTTP with the
steps most tests take, and what a runner does with a relayed signalling message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.support.daily import FakeDaily
from tests.support.documented import assert_documented
from tests.support.sdp import AUDIO_OFFER_SDP
from tests.support.servers import serving
from tests.support.sink import CaptureSink
from voicefleet.redis_conn import connect
from voicefleet.signalling import SignallingRelay, SignalMessage, SignalReply

ACME = {"Authorization": "Bearer key-acme"}
GLOBEX = {"Authorization": "Bearer key-globex"}
ROOM = "https://acme.daily.co/room"
OFFER = {"sdp": AUDIO_OFFER_SDP, "type": "offer"}
ANSWER = {"sdp": "x", "type": "answer", "pc_id": "pc1"}
CANDIDATES = {
    "pc_id": "pc1",
    "candidates": [{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdp_mid": "0",
                    "sdp_mline_index": 0}],
}  # fmt: skip
OFFER_TIMEOUT_S = 0.5
PREBUILT_START = {"createDailyRoom": False, "enableDefaultIceServers": True, "transport": "webrtc"}


@dataclass
class Gateway:
    http: httpx.AsyncClient
    sink: CaptureSink
    redis: Redis
    redis_url: str

    async def session(self, session_id: str, headers: dict[str, str] = ACME) -> dict[str, Any]:
        response = await self.http.get(f"/sessions/{session_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert_documented("gateway", "GET", "/sessions/{session_id}", 200, body)
        return body

    async def start_webrtc(self) -> str:
        response = await self.http.post("/start", json={"transport": "webrtc"}, headers=ACME)
        assert response.status_code == 200, response.text
        session_id: str = response.json()["sessionId"]
        return session_id

    async def join(self, headers: dict[str, str] = ACME, **extra: str) -> str:
        response = await self.http.post(
            "/join", json={"room_url": ROOM}, headers={**headers, **extra}
        )
        assert response.status_code == 202, response.text
        session_id: str = response.json()["session_id"]
        return session_id

    async def stored_keys(self) -> list[str]:
        keys: list[str] = await self.redis.keys("session:*") + await self.redis.keys("idem*")
        return keys


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@asynccontextmanager
async def with_daily(
    make_gateway: GatewayFactory, daily: FakeDaily, **env: str
) -> AsyncIterator[Gateway]:
    """The gateway making `createDailyRoom` rooms through `daily`, served while it lasts."""
    async with (
        serving(daily.app) as daily_url,
        make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=daily_url, **env) as gw,
    ):
        yield gw


async def answer_one(gw: Gateway, session_id: str, reply: SignalReply) -> SignalMessage:
    """What a runner does with the session's next signalling message: pop it and reply."""
    client = connect(gw.redis_url, blocking=True)
    try:
        relay = SignallingRelay(client)
        message = await relay.receive(session_id, timeout_s=5)
        assert message is not None, "the gateway relayed nothing"
        await relay.reply(session_id, message.request_id, reply)
        return message
    finally:
        await client.aclose()


def structured(attributes: dict[str, Any], data: Any) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"specversion": "1.0", "datacontenttype": "application/json",
                       **attributes, "data": data}).encode()  # fmt: skip
    return {"content-type": "application/cloudevents+json"}, body


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    return error
