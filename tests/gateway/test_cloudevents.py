"""Join CloudEvents at `POST /`, binary and structured; other types and broken events refused."""

from __future__ import annotations

import pytest

from tests.gateway.client import ACME, ROOM, Gateway, error_of, structured
from voicefleet import cloudevents_codec
from voicefleet.contracts import JOIN_EVENT, LAUNCH_EVENT
from voicefleet.session_store import SessionStore

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_binary_join_event_launches(gateway: Gateway) -> None:
    headers, body = cloudevents_codec.encode(JOIN_EVENT, "/tests", {"room_url": ROOM})

    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})

    assert response.status_code == 202, response.text
    session_id = response.json()["session_id"]
    assert [(x["session_id"], x["room_url"]) for x in gateway.sink.launches] == [(session_id, ROOM)]


async def test_structured_join_event_launches(gateway: Gateway) -> None:
    headers, body = structured(
        {"type": JOIN_EVENT, "source": "/tests", "id": "e1"}, {"room_url": ROOM, "token": "t"}
    )

    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})

    assert response.status_code == 202, response.text
    session_id = response.json()["session_id"]
    assert [(x["session_id"], x["room_url"]) for x in gateway.sink.launches] == [(session_id, ROOM)]
    assert await SessionStore(gateway.redis).secret(session_id) == "t"


async def test_event_of_another_type_is_refused(gateway: Gateway) -> None:
    headers, body = cloudevents_codec.encode("com.example.other", "/tests", {"room_url": ROOM})
    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == "type"

    headers, body = structured({"type": LAUNCH_EVENT, "source": "/t", "id": "1"}, {})
    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    assert response.status_code == 400, response.text
    assert gateway.sink.events == []


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0", "ty', 400),
        ({"content-type": "application/cloudevents+json"}, b'{"specversion": "1.0"}', 400),
        ({"content-type": "application/cloudevents+json"}, b"[1]", 400),
        ({"ce-specversion": "1.0", "ce-type": JOIN_EVENT}, b"{}", 400),
        (
            {"ce-specversion": "1.0", "ce-type": JOIN_EVENT, "ce-source": "/t", "ce-id": "1",
             "content-type": "application/json"},
            b'{"room_url": ',
            400,
        ),
        (
            {"ce-specversion": "1.0", "ce-type": JOIN_EVENT, "ce-source": "/t", "ce-id": "1",
             "content-type": "application/json"},
            b'["https://acme.daily.co/room"]',
            400,
        ),
        (
            {"ce-specversion": "1.0", "ce-type": JOIN_EVENT, "ce-source": "/t", "ce-id": "1",
             "content-type": "application/json"},
            b'{"room_url": "https://evil.example.com/r"}',
            422,
        ),
    ],
    ids=["broken-json", "no-attributes", "array", "binary-no-id", "broken-data", "array-data",
         "bad-room"],
)  # fmt: skip
async def test_broken_events_are_refused(
    gateway: Gateway, headers: dict[str, str], body: bytes, status: int
) -> None:
    response = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    assert response.status_code == status, response.text
    error_of(response)
    assert gateway.sink.events == []


async def test_redelivered_event_is_the_same_session(gateway: Gateway) -> None:
    headers, body = cloudevents_codec.encode(
        JOIN_EVENT, "/tests", {"room_url": ROOM}, event_id="evt-1"
    )
    first = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    again = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    s_headers, s_body = structured(
        {"type": JOIN_EVENT, "source": "/tests", "id": "evt-1"}, {"room_url": ROOM}
    )
    as_structured = await gateway.http.post("/", content=s_body, headers={**ACME, **s_headers})

    assert first.status_code == again.status_code == as_structured.status_code == 202
    session_id = first.json()["session_id"]
    assert again.json()["session_id"] == as_structured.json()["session_id"] == session_id
    assert len(gateway.sink.launches) == 1

    headers, body = cloudevents_codec.encode(
        JOIN_EVENT, "/tests", {"room_url": ROOM}, event_id="evt-2"
    )
    other = await gateway.http.post("/", content=body, headers={**ACME, **headers})
    assert other.json()["session_id"] != session_id
    assert len(gateway.sink.launches) == 2
