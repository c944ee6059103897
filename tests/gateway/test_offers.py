"""Offers and ICE candidates relayed to the session's runner through Redis, and answered back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.gateway.client import (
    ACME,
    ANSWER,
    CANDIDATES,
    GLOBEX,
    OFFER,
    OFFER_TIMEOUT_S,
    Gateway,
    answer_one,
    error_of,
)
from tests.support.sdp import NOT_OFFERS
from voicefleet.contracts import Keys
from voicefleet.signalling import SignalMessage, SignalReply

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_offer_nobody_answers_times_out(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()

    started = time.monotonic()
    response = await gateway.http.post(
        f"/sessions/{session_id}/api/offer", json=OFFER, headers=ACME
    )

    assert response.status_code == 504, response.text
    assert "no bot" in error_of(response)["message"]
    assert time.monotonic() - started >= OFFER_TIMEOUT_S * 0.9
    # The offer was taken back: a runner that turns up later does not answer a stale one.
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0


async def test_offer_is_answered_by_the_runner(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    runner = asyncio.create_task(answer_one(gateway, session_id, SignalReply(ok=True, data=ANSWER)))

    response = await gateway.http.post(
        f"/sessions/{session_id}/api/offer", json={**OFFER, "restart_pc": False}, headers=ACME
    )

    assert response.status_code == 200, response.text
    assert response.json() == ANSWER
    message = await runner
    assert message.kind == "offer"
    assert message.payload == {**OFFER, "restart_pc": False}
    assert await gateway.redis.get(Keys.peer_connection("pc1")) == session_id


async def test_offer_refused_by_the_runner(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    reply = SignalReply(ok=False, status=400, error="invalid offer: bad SDP")
    runner = asyncio.create_task(answer_one(gateway, session_id, reply))

    response = await gateway.http.post(
        f"/sessions/{session_id}/api/offer", json=OFFER, headers=ACME
    )

    await runner
    assert response.status_code == 400, response.text
    assert error_of(response)["message"] == "invalid offer: bad SDP"


async def test_runner_refusal_without_an_error_status_is_a_bad_gateway(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    runner = asyncio.create_task(answer_one(gateway, session_id, SignalReply(ok=False)))

    response = await gateway.http.post(
        f"/sessions/{session_id}/api/offer", json=OFFER, headers=ACME
    )

    await runner
    assert response.status_code == 502, response.text
    error_of(response)


async def test_ice_candidates_are_relayed(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    runner = asyncio.create_task(answer_one(gateway, session_id, SignalReply(ok=True)))

    response = await gateway.http.patch(
        f"/sessions/{session_id}/api/offer", json=CANDIDATES, headers=ACME
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "success"}
    message = await runner
    assert (message.kind, message.payload) == ("ice", CANDIDATES)


async def test_ice_nobody_answers_times_out(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    response = await gateway.http.patch(
        f"/sessions/{session_id}/api/offer", json=CANDIDATES, headers=ACME
    )
    assert response.status_code == 504, response.text
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0


async def test_direct_offer_starts_a_session(gateway: Gateway) -> None:
    async def runner() -> SignalMessage:
        launch = await gateway.sink.next_launch()
        return await answer_one(gateway, launch["session_id"], SignalReply(ok=True, data=ANSWER))

    task = asyncio.create_task(runner())
    response = await gateway.http.post(
        "/api/offer", json={**OFFER, "requestData": {"persona": "pirate"}}, headers=ACME
    )

    assert response.status_code == 200, response.text
    [launch] = gateway.sink.launches
    assert response.json() == {**ANSWER, "session_id": launch["session_id"]}
    assert (launch["transport"], launch["body"]) == ("webrtc", {"persona": "pirate"})
    assert (await task).payload["sdp"] == OFFER["sdp"]

    # Pipecat's client then trickles candidates to /api/offer by pc_id: same session.
    task = asyncio.create_task(answer_one(gateway, launch["session_id"], SignalReply(ok=True)))
    response = await gateway.http.patch("/api/offer", json=CANDIDATES, headers=ACME)
    assert response.status_code == 200, response.text
    assert (await task).kind == "ice"
    # ... and another tenant cannot reach that peer connection.
    response = await gateway.http.patch("/api/offer", json=CANDIDATES, headers=GLOBEX)
    assert response.status_code == 404, response.text


async def test_direct_offer_for_an_unknown_peer_connection(gateway: Gateway) -> None:
    unknown = {**CANDIDATES, "pc_id": "unknown"}
    for response in (
        await gateway.http.patch("/api/offer", json=unknown, headers=ACME),
        await gateway.http.post("/api/offer", json={**OFFER, "pc_id": "unknown"}, headers=ACME),
    ):
        assert response.status_code == 404, response.text
        assert error_of(response)["field"] == "pc_id"
    assert gateway.sink.events == []


@pytest.mark.parametrize(
    ("offer", "field"),
    [({"type": "offer"}, "sdp"), ({"sdp": "x", "type": "answer"}, "type"), ({"sdp": "x"}, "type")],
    ids=["no-sdp", "answer", "no-type"],
)
async def test_invalid_offer_is_refused(
    gateway: Gateway, offer: dict[str, Any], field: str
) -> None:
    session_id = await gateway.start_webrtc()
    for path in (f"/sessions/{session_id}/api/offer", "/api/offer"):
        response = await gateway.http.post(path, json=offer, headers=ACME)
        assert response.status_code == 422, (path, response.text)
        assert error_of(response)["field"] == field
    assert len(gateway.sink.launches) == 1  # only the /start
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0


@pytest.mark.parametrize("sdp", NOT_OFFERS.values(), ids=NOT_OFFERS.keys())
async def test_an_sdp_that_is_not_an_audio_offer_is_refused_before_anything_starts(
    gateway: Gateway, sdp: str
) -> None:
    session_id = await gateway.start_webrtc()
    for path in (f"/sessions/{session_id}/api/offer", "/api/offer"):
        response = await gateway.http.post(path, json={"sdp": sdp, "type": "offer"}, headers=ACME)
        assert response.status_code == 400, (path, response.text)
        error = error_of(response)
        assert error["field"] == "sdp" and error["message"].startswith("sdp "), error
    # No session made by /api/offer, nothing relayed to the /start session's runner.
    assert len(gateway.sink.launches) == 1
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_offer_to_a_session_that_cannot_take_one(gateway: Gateway) -> None:
    daily = await gateway.join()
    ended = await gateway.start_webrtc()
    assert (await gateway.http.delete(f"/sessions/{ended}", headers=ACME)).status_code == 202

    for session_id in (daily, ended):
        response = await gateway.http.post(
            f"/sessions/{session_id}/api/offer", json=OFFER, headers=ACME
        )
        assert response.status_code == 409, response.text
        error_of(response)
