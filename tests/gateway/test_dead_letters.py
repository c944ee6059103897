"""Launches the broker dead-letters back to the gateway fail their session; forgeries get a 4xx."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from tests.gateway.client import ACME, OFFER, ROOM, Gateway, error_of
from voicefleet import cloudevents_codec
from voicefleet.contracts import JOIN_EVENT, LAUNCH_EVENT

pytestmark = pytest.mark.asyncio(loop_scope="module")


def dead_lettered(
    event: CloudEvent, data: dict[str, Any] | None = None
) -> tuple[dict[str, str], bytes]:
    """The launch as the broker's dead-letter sink delivers it after the last retry."""
    return cloudevents_codec.encode(
        event["type"],
        event["source"],
        data if data is not None else cloudevents_codec.data_of(event),
        event_id=event["id"],
        extensions={"knativeerrorcode": "503"},
    )


async def test_dead_lettered_launch_fails_its_session(gateway: Gateway) -> None:
    session_id = await gateway.join()
    headers, body = dead_lettered(gateway.sink.events[0])

    response = await gateway.http.post("/deadletter", content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"session_id": session_id, "failed": True}
    record = await gateway.session(session_id)
    assert record["status"] == "failed"
    assert "503" in record["reason"]

    again = await gateway.http.post("/deadletter", content=body, headers=headers)
    assert again.json() == {"session_id": session_id, "failed": False}


async def test_dead_letter_never_overwrites_an_ended_session(gateway: Gateway) -> None:
    session_id = await gateway.join()
    await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)
    headers, body = dead_lettered(gateway.sink.events[0])

    response = await gateway.http.post("/deadletter", content=body, headers=headers)

    assert response.json() == {"session_id": session_id, "failed": False}
    assert (await gateway.session(session_id))["status"] == "ended"


async def test_forged_dead_letters_are_refused(gateway: Gateway) -> None:
    session_id = await gateway.join()
    event = gateway.sink.events[0]
    data = cloudevents_codec.data_of(event)
    forgeries = [
        {**data, "session_id": uuid.uuid4().hex},
        {**data, "tenant": "globex"},
        {**data, "created_at": data["created_at"] - 60},
    ]
    for forged in forgeries:
        headers, body = dead_lettered(event, forged)
        response = await gateway.http.post("/deadletter", content=body, headers=headers)
        assert response.status_code == 404, response.text
        error_of(response)
    assert (await gateway.session(session_id))["status"] == "queued"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b"garbage"),
        ({"content-type": "application/cloudevents+json"}, b"{broken"),
        (cloudevents_codec.encode(LAUNCH_EVENT, "/x", {"session_id": "x"})[0], b"{}"),
        cloudevents_codec.encode(LAUNCH_EVENT, "/x", {"whatever": 1}),
        cloudevents_codec.encode(JOIN_EVENT, "/x", {"room_url": ROOM}),
    ],
    ids=["not-an-event", "broken", "empty-data", "not-a-launch", "join"],
)
async def test_garbage_dead_letters_are_refused(
    gateway: Gateway, headers: dict[str, str], body: bytes
) -> None:
    response = await gateway.http.post("/deadletter", content=body, headers=headers)
    assert response.status_code == 400, response.text
    error_of(response)


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/join", {"room_url": ROOM, "body": {"user_id": "ada lovelace"}}, "body.user_id"),
        ("/join", {"room_url": ROOM, "body": {"user_id": "adé"}}, "body.user_id"),
        ("/start", {"transport": "webrtc", "body": {"greeting": ""}}, "body.greeting"),
        ("/start", {"transport": "webrtc", "body": {"user_name": "x" * 101}}, "body.user_name"),
        ("/api/offer", {**OFFER, "requestData": {"user_id": ""}}, "requestData.user_id"),
    ],
)
async def test_bad_session_options_are_refused_before_any_launch(
    gateway: Gateway, path: str, payload: dict[str, Any], field: str
) -> None:
    response = await gateway.http.post(path, json=payload, headers=ACME)
    assert response.status_code == 422, response.text
    assert error_of(response)["field"] == field
    assert gateway.sink.events == []
    assert await gateway.stored_keys() == []
