"""`POST /join`: a session queued and launched; bad input refused with a 4xx naming the problem."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from tests.gateway.client import ACME, ROOM, Gateway, error_of
from voicefleet import cloudevents_codec
from voicefleet.contracts import GATEWAY_SOURCE, JOIN_EVENT, LAUNCH_EVENT, LaunchPayload
from voicefleet.session_store import SessionStore

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_join_queues_a_session_and_launches_it(gateway: Gateway) -> None:
    response = await gateway.http.post(
        "/join",
        json={"room_url": ROOM, "token": "room-secret", "body": {"greeting": "hello"}},
        headers=ACME,
    )

    assert response.status_code == 202, response.text
    session_id = response.json()["session_id"]
    assert response.json() == {"session_id": session_id, "status": "queued"}

    [event] = gateway.sink.events
    assert (event["type"], event["source"], event["id"]) == (
        LAUNCH_EVENT,
        GATEWAY_SOURCE,
        session_id,
    )
    data = cloudevents_codec.data_of(event)
    launch = LaunchPayload.model_validate(data)
    assert (launch.session_id, launch.tenant, launch.transport, launch.room_url) == (
        session_id,
        "acme",
        "daily",
        ROOM,
    )
    assert launch.body == {"greeting": "hello"}
    # The room token never travels in the event; the runner reads it from the store.
    assert "token" not in data
    assert "room-secret" not in json.dumps(data)
    assert await SessionStore(gateway.redis).secret(session_id) == "room-secret"

    record = await gateway.session(session_id)
    assert {k: record[k] for k in ("session_id", "tenant", "status", "transport", "room_url")} == {
        "session_id": session_id,
        "tenant": "acme",
        "status": "queued",
        "transport": "daily",
        "room_url": ROOM,
    }


async def test_seed_plain_json_at_root_is_a_join(gateway: Gateway) -> None:
    response = await gateway.http.post("/", json={"room_url": ROOM}, headers=ACME)
    assert response.status_code == 202, response.text
    assert [launch["room_url"] for launch in gateway.sink.launches] == [ROOM]


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b'"https://acme.daily.co/room"', 400, None),
        (b"\xff\xfe\x00", 400, None),
        (b"[" * 100_000, 400, None),
        (b"{}", 422, "room_url"),
        (b'{"room_url": null}', 422, "room_url"),
        (b'{"room_url": 5}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co/room", "colour": "red"}', 422, "colour"),
        (b'{"room_url": "https://acme.daily.co/room", "body": []}', 422, "body"),
        (b'{"room_url": "http://acme.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://evil.example.com/room"}', 422, "room_url"),
        (b'{"room_url": "https://user:pw@acme.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co@evil.example.com/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co.evil.example.com/room"}', 422, "room_url"),
        (b'{"room_url": "https://evil.example.com\\\\.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://[acme.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co:99999/room"}', 422, "room_url"),
        (b'{"room_url": "acme.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co/r\\r\\nHost: evil.com"}', 422, "room_url"),
        (b'{"room_url": "https://acme.da\\tily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://:@acme.daily.co/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co:0/room"}', 422, "room_url"),
        (b'{"room_url": "https://acme.daily.co:8443/room"}', 422, "room_url"),
        (b'{"room_url": ""}', 422, "room_url"),
    ],
)
async def test_join_refuses_bad_input(
    gateway: Gateway, content: bytes, status: int, field: str | None
) -> None:
    response = await gateway.http.post("/join", content=content, headers=ACME)

    assert response.status_code == status, response.text
    assert error_of(response).get("field") == field
    assert gateway.sink.events == []
    assert await gateway.stored_keys() == []


async def test_oversized_body_is_refused(gateway: Gateway) -> None:
    big = {"room_url": ROOM, "body": {"notes": "x" * 300_000}}
    for path in ("/join", "/start", "/api/offer"):
        response = await gateway.http.post(path, json=big, headers=ACME)
        assert response.status_code == 413, (path, response.text)
        error_of(response)
    headers, body = cloudevents_codec.encode(JOIN_EVENT, "/tests", big)
    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    assert response.status_code == 413, response.text
    response = await gateway.http.post("/deadletter", content=body, headers=headers)
    assert response.status_code == 413, response.text
    assert gateway.sink.events == []


async def test_unknown_route_and_wrong_method_answer_json(gateway: Gateway) -> None:
    for path in ("/nope", "/sessions/x/nope", "/join/extra"):
        response = await gateway.http.post(path, json={}, headers=ACME)
        assert response.status_code == 404, (path, response.text)
        error_of(response)
    for method, path in [("GET", "/join"), ("PUT", "/sessions/x"), ("GET", "/deadletter")]:
        response = await gateway.http.request(method, path, headers=ACME)
        assert response.status_code == 405, (method, path, response.text)
        assert "POST" in error_of(response)["message"] or "GET" in error_of(response)["message"]


async def test_garbage_never_causes_a_server_error(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    rng = random.Random(1234)
    bodies: list[bytes] = [rng.randbytes(rng.randint(0, 300)) for _ in range(6)]
    bodies += [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"0",
        b"NaN",
        b"{" * 50_000,
        b"[" * 100_000,
        b'{"room_url": {"$gt": ""}}',
        b'{"room_url": ["https://acme.daily.co/room"]}',
        b'{"room_url": "https://acme.daily.co/room", "token": 5}',
        b'{"room_url": "https://acme.daily.co/room", "body": "x"}',
        b'{"transport": "pigeon"}',
        b'{"createDailyRoom": [1]}',
        b'{"sdp": 5, "type": "offer"}',
        b'{"sdp": "x", "type": "offer", "pc_id": 7}',
        b'{"sdp": "", "type": "offer", "pc_id": "unknown"}',
        b'{"pc_id": "x", "candidates": "y"}',
        b'{"pc_id": "", "candidates": []}',
        b'{"pc_id": "x", "candidates": [{"candidate": 1}]}',
        b'{"specversion": "1.0", "type": 5, "source": {}, "id": [], "data": 1}',
        b'{"specversion": "1.0", "type": "io.voicefleet.bot.join", "source": "s", "id": "1"}',
        b'{"specversion": "1.0", "type": "io.voicefleet.bot.launch", "source": "s", "id": "1",'
        b' "data": {"session_id": "x", "tenant": "acme", "transport": "webrtc"}}',
    ]
    header_sets = [
        {"content-type": "application/json"},
        {"content-type": "application/cloudevents+json"},
        {"ce-specversion": "1.0", "ce-type": JOIN_EVENT, "ce-source": "/fuzz", "ce-id": "1"},
        {"ce-specversion": "1.0", "ce-type": LAUNCH_EVENT, "ce-source": "/fuzz",
         "ce-id": "2", "content-type": "application/json"},
    ]  # fmt: skip
    endpoints = [
        ("POST", "/"),
        ("POST", "/join"),
        ("POST", "/start"),
        ("POST", "/api/offer"),
        ("PATCH", "/api/offer"),
        ("POST", f"/sessions/{session_id}/api/offer"),
        ("PATCH", f"/sessions/{session_id}/api/offer"),
        ("POST", "/deadletter"),
        ("GET", f"/sessions/{session_id}"),
        ("DELETE", "/sessions/no-such-session"),
    ]
    for method, path in endpoints:
        for headers in header_sets if path in ("/", "/deadletter") else header_sets[:1]:
            calls = [
                gateway.http.request(method, path, content=body, headers={**ACME, **headers})
                for body in bodies
            ]
            for body, response in zip(bodies, await asyncio.gather(*calls), strict=True):
                assert response.status_code < 500, (method, path, headers, body[:40], response.text)
                if response.status_code >= 400:
                    error_of(response)
    # Only `/start` launched (its fields all have defaults), and never into another room.
    assert {x["room_url"] for x in gateway.sink.launches} <= {None, ROOM}
