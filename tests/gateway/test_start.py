"""`POST /start`, Pipecat's prebuilt client's entry: ICE servers, the bot's body, Daily rooms."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.gateway.client import (
    ACME,
    PREBUILT_START,
    ROOM,
    Gateway,
    GatewayFactory,
    error_of,
    with_daily,
)
from tests.support.daily import FakeDaily
from tests.support.servers import free_port
from voicefleet.session_store import SessionStore

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize(
    "body", [{"transport": "webrtc"}, PREBUILT_START, {}], ids=["webrtc", "prebuilt", "empty"]
)
async def test_start_webrtc_hands_out_no_public_ice_servers(
    gateway: Gateway, body: dict[str, Any]
) -> None:
    response = await gateway.http.post("/start", json=body, headers=ACME)

    assert response.status_code == 200, response.text
    session_id = response.json()["sessionId"]
    assert response.json() == {"sessionId": session_id}
    [launch] = gateway.sink.launches
    assert (launch["session_id"], launch["transport"], launch["room_url"]) == (
        session_id,
        "webrtc",
        None,
    )
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_start_returns_configured_ice_servers(make_gateway: GatewayFactory) -> None:
    ice = [{"urls": ["stun:127.0.0.1:3478"]}]
    async with make_gateway(VOICEFLEET_ICE_SERVERS=json.dumps(ice)) as gw:
        response = await gw.http.post("/start", json=PREBUILT_START, headers=ACME)

    assert response.status_code == 200, response.text
    assert response.json()["iceConfig"] == {"iceServers": ice}


async def test_start_forwards_the_body_to_the_bot(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/start", json={**PREBUILT_START, "body": {"persona": "pirate"}}, headers=ACME
    )
    assert response.status_code == 200, response.text
    assert gateway.sink.launches[0]["body"] == {"persona": "pirate"}


async def test_start_daily_with_a_room(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/start", json={"transport": "daily", "room_url": ROOM}, headers=ACME
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"sessionId": response.json()["sessionId"], "dailyRoom": ROOM}
    assert [x["room_url"] for x in gateway.sink.launches] == [ROOM]

    for body in (
        {"transport": "daily"},
        {"transport": "daily", "room_url": "https://evil.example.com/r"},
    ):
        response = await gateway.http.post("/start", json=body, headers=ACME)
        assert response.status_code == 422, response.text
        assert error_of(response)["field"] == "room_url"
    assert len(gateway.sink.launches) == 1


async def test_create_daily_room_without_daily_configured(gateway: Gateway) -> None:
    response = await gateway.http.post("/start", json={"createDailyRoom": True}, headers=ACME)
    assert response.status_code == 503, response.text
    assert "DAILY_API_KEY" in error_of(response)["message"]
    assert gateway.sink.events == []


async def test_create_daily_room(make_gateway: GatewayFactory) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        response = await gw.http.post(
            "/start", json={"createDailyRoom": True, "body": {"a": 1}}, headers=ACME
        )
        assert response.status_code == 200, response.text
        result = response.json()
        session_id = result["sessionId"]
        assert set(result) == {"sessionId", "dailyRoom", "dailyToken"}
        assert result["dailyRoom"].startswith("https://acme.daily.co/r-")

        paths = [path for path, _, _ in daily.requests]
        assert paths == ["/rooms", "/meeting-tokens", "/meeting-tokens"]
        assert {auth for _, auth, _ in daily.requests} == {"Bearer daily-key"}
        room_name = result["dailyRoom"].rsplit("/", 1)[1]
        user_token, bot_token = (p for _, _, p in daily.requests[1:])
        assert user_token["properties"]["room_name"] == room_name
        assert bot_token["properties"]["is_owner"] is True
        # The client gets the user's token; the bot's waits in the store, out of the event.
        assert result["dailyToken"] == "daily-token-1"
        assert await SessionStore(gw.redis).secret(session_id) == "daily-token-2"
        [launch] = gw.sink.launches
        assert (launch["session_id"], launch["transport"], launch["room_url"]) == (
            session_id,
            "daily",
            result["dailyRoom"],
        )
        assert "daily-token" not in json.dumps(launch)
        assert (await gw.session(session_id))["room_url"] == result["dailyRoom"]


async def test_retried_create_daily_room_answers_with_the_sessions_room(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        headers = {**ACME, "Idempotency-Key": "once"}
        first = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)
        again = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json()["sessionId"] == first.json()["sessionId"]
    assert len(gw.sink.launches) == 1
    assert again.json()["dailyRoom"] == first.json()["dailyRoom"]
    assert again.json()["dailyToken"] == first.json()["dailyToken"]
    assert len(daily.rooms) == 1


async def test_concurrent_create_daily_room_duplicates_make_one_session_and_room(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with with_daily(make_gateway, daily) as gw:
        headers = {**ACME, "Idempotency-Key": "together"}
        answers = await asyncio.gather(
            *(gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)
              for _ in range(5))
        )  # fmt: skip
        # The first makes the room; a duplicate arriving meanwhile is told to retry (409, as
        # the IETF Idempotency-Key draft says), and its retry gets the same session and room.
        retried = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)
    made = [a.json() for a in answers if a.status_code == 200]
    waiting = [a for a in answers if a.status_code != 200]
    assert made, [a.text for a in answers]
    assert {(a.status_code, a.headers["retry-after"]) for a in waiting} <= {(409, "1")}
    assert len({(b["sessionId"], b["dailyRoom"], b["dailyToken"]) for b in made}) == 1
    assert retried.json() == made[0]
    assert len(daily.rooms) == 1
    assert len(gw.sink.launches) == 1


async def test_create_daily_room_when_daily_fails(make_gateway: GatewayFactory) -> None:
    daily = FakeDaily()
    daily.failing = True
    async with with_daily(make_gateway, daily) as gw:
        response = await gw.http.post("/start", json={"createDailyRoom": True}, headers=ACME)
        assert response.status_code == 502, response.text
        assert "500" in error_of(response)["message"]
        assert gw.sink.events == []
        assert await gw.stored_keys() == []


async def test_create_daily_room_when_daily_is_unreachable(make_gateway: GatewayFactory) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=nowhere) as gw:
        response = await gw.http.post("/start", json={"createDailyRoom": True}, headers=ACME)
        assert response.status_code == 502, response.text
        assert "unreachable" in error_of(response)["message"]
        assert gw.sink.events == []
