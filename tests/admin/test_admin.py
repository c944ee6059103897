"""The admin function over real HTTP, as functions-framework serves it, against a real Redis.

What an operator sees: messages accepted with an id and a status they can follow, the wrong
key or a malformed message refused with a clear 4xx, and only their own tenant's sessions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from functions import asgi_app
from functions.admin import context as admin_context
from tests.bot.test_admin_handler import Setup, admin_message
from tests.support.documented import assert_documented
from tests.support.servers import serving
from voicefleet import cloudevents_codec
from voicefleet.admin_queue import AdminQueue, AdminStatus
from voicefleet.contracts import (
    ADMIN_MESSAGE_EVENT,
    Keys,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.http_client import async_client
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore

ACME = {"Authorization": "Bearer admin-acme"}
GLOBEX = {"Authorization": "Bearer admin-globex"}
ACME_GATEWAY = {"Authorization": "Bearer key-acme"}
ROOM = "https://acme.daily.co/room"
SAY = {"type": "say", "text": "The meeting moved to 3pm."}

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _forget_context() -> None:
    await admin_context.context.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def admin_url() -> AsyncIterator[str]:
    app = asgi_app("admin")
    async with serving(app) as url:
        yield url
        await _forget_context()


@pytest_asyncio.fixture(loop_scope="module")
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def http(
    admin_url: str, redis: Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    for name in ("VOICEFLEET_API_KEY", "VOICEFLEET_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = {
        "REDIS_URL": redis_url,
        "VOICEFLEET_API_KEYS": "acme:key-acme,globex:key-globex",
        "VOICEFLEET_ADMIN_KEYS": "acme:admin-acme,globex:admin-globex",
        "VOICEFLEET_ALLOWED_ROOM_HOSTS": "*.daily.co",
        "VOICEFLEET_ADMIN_QUEUE_MAX": "5",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    await _forget_context()
    async with async_client(base_url=admin_url) as client:
        yield client
    await _forget_context()


async def _session(
    redis: Redis,
    *,
    tenant: str = "acme",
    room_url: str | None = None,
    status: SessionStatus = SessionStatus.JOINED,
) -> SessionRecord:
    now = time.time()
    record = SessionRecord(
        session_id=uuid.uuid4().hex,
        tenant=tenant,
        status=status,
        transport=TransportKind.DAILY if room_url else TransportKind.WEBRTC,
        room_url=room_url,
        runner="runner-1",
        created_at=now - 5,
        updated_at=now,
    )
    await SessionStore(redis).create(record)
    if status in (SessionStatus.STARTING, SessionStatus.JOINED):
        # As its runner holds it: a session running without a lease is one whose runner died.
        await redis.set(Keys.session_lease(record.session_id), "runner-1", px=60_000)
    return record


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# sending --------------------------------------------------------------------------------------


async def test_a_message_to_a_room_is_queued_published_and_followable(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(Keys.admin_channel(ROOM))
    response = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=ACME)
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    assert await redis.lrange(Keys.admin_queue(ROOM), 0, -1) == [message_id]
    published = None
    for _ in range(20):
        published = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if published:
            break
    assert published is not None and published["data"] == message_id
    await pubsub.aclose()

    status = await http.get(f"/admin/messages/{message_id}", headers=ACME)
    assert status.status_code == 200
    assert status.json()["status"] == "queued"
    assert status.json()["message"] == SAY

    # The bot processes it: the status says when and by which session.
    queue = AdminQueue(redis)
    claimed = await queue.claim(ROOM, "session-1")
    assert claimed is not None
    await queue.finish(claimed, AdminStatus.PROCESSED, session_id="session-1")
    done = (await http.get(f"/admin/messages/{message_id}", headers=ACME)).json()
    assert (done["status"], done["session_id"]) == ("processed", "session-1")
    assert done["processed_at"] >= done["created_at"]


async def test_a_message_to_a_webrtc_session_goes_to_that_session(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    session = await _session(redis)
    response = await http.post(
        "/admin", json={"session_id": session.session_id, "message": SAY}, headers=ACME
    )
    assert response.status_code == 202, response.text
    assert await redis.lrange(Keys.admin_queue(session.session_id), 0, -1) == [
        response.json()["id"]
    ]


async def test_a_message_to_a_daily_session_goes_to_its_room(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    session = await _session(redis, room_url=ROOM)
    response = await http.post(
        "/admin", json={"session_id": session.session_id, "message": SAY}, headers=ACME
    )
    assert response.status_code == 202, response.text
    assert await redis.lrange(Keys.admin_queue(ROOM), 0, -1) == [response.json()["id"]]


@pytest.mark.parametrize("mode", ["binary", "structured"])
async def test_a_cloudevent_is_queued_once_however_often_it_is_delivered(
    http: httpx.AsyncClient, redis: Redis, mode: str
) -> None:
    data = {"room_url": ROOM, "message": SAY}
    event_id = uuid.uuid4().hex
    if mode == "binary":
        headers, body = cloudevents_codec.encode(
            ADMIN_MESSAGE_EVENT, "/ops/dashboard", data, event_id=event_id
        )
    else:
        headers = {"content-type": "application/cloudevents+json"}
        body = json.dumps(
            {
                "specversion": "1.0",
                "type": ADMIN_MESSAGE_EVENT,
                "source": "/ops/dashboard",
                "id": event_id,
                "datacontenttype": "application/json",
                "data": data,
            }
        ).encode()
    first = await http.post("/", content=body, headers={**headers, **ACME})
    again = await http.post("/", content=body, headers={**headers, **ACME})
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["id"] == again.json()["id"]
    assert await redis.lrange(Keys.admin_queue(ROOM), 0, -1) == [first.json()["id"]]


async def test_the_same_idempotency_key_sends_one_message(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    headers = {**ACME, "Idempotency-Key": "retry-1"}
    first = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=headers)
    again = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert await redis.llen(Keys.admin_queue(ROOM)) == 1


async def test_an_idempotency_key_reused_for_another_message_is_422(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    headers = {**ACME, "Idempotency-Key": "reused"}
    first = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=headers)
    other = {"type": "say", "text": "something else"}
    clash = await http.post("/admin", json={"room_url": ROOM, "message": other}, headers=headers)
    assert first.status_code == 202, first.text
    assert clash.status_code == 422, clash.text
    assert _error(clash)["field"] == "Idempotency-Key"
    assert "different request" in _error(clash)["message"]
    assert await redis.llen(Keys.admin_queue(ROOM)) == 1


@pytest.mark.parametrize(
    "message",
    [
        SAY,
        {"type": "say", "text": "   "},
        {"type": "say", "text": "x" * 4001},
        {"type": "say", "text": 42},
        {"type": "say", "text": "hi", "voice": "loud"},
        {"type": "append_context", "content": "a fact", "role": "assistant"},
        {"type": "append_context", "content": "a fact", "respond": "yes"},
        {"type": "append_context", "content": " a fact ", "respond": False},
        {"type": "end_session", "text": ""},
        {"type": "update_prompts", "now": True},
    ],
)
async def test_the_admin_function_and_the_bot_judge_a_message_alike(
    http: httpx.AsyncClient, message: dict[str, Any]
) -> None:
    """What the admin function accepts the bot carries out; what it refuses (422), the bot
    would reject in the same words: both validate with voicefleet/admin_messages.py."""
    sent = await http.post("/admin", json={"room_url": ROOM, "message": message}, headers=ACME)
    _, _, [outcome] = await Setup().deliver(admin_message(**message))
    if sent.status_code == 202:
        assert outcome is None, (message, outcome)
    else:
        assert sent.status_code == 422, sent.text
        assert _error(sent)["message"] == outcome, message


async def test_an_unknown_message_type_is_passed_on_for_the_bot_to_judge(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/admin",
        json={"room_url": ROOM, "message": {"type": "dance", "style": "waltz"}},
        headers=ACME,
    )
    assert response.status_code == 202, response.text


async def test_a_full_queue_answers_429_and_keeps_what_it_has(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    for _ in range(5):
        ok = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=ACME)
        assert ok.status_code == 202
    full = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=ACME)
    assert full.status_code == 429
    assert "already waiting" in _error(full)["message"]
    assert await redis.llen(Keys.admin_queue(ROOM)) == 5


# refusals -------------------------------------------------------------------------------------


async def test_no_key_or_a_wrong_key_is_401_and_a_gateway_key_is_403(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    payload = {"room_url": ROOM, "message": SAY}
    assert (await http.post("/admin", json=payload)).status_code == 401
    wrong = await http.post("/admin", json=payload, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    gateway_key = await http.post("/admin", json=payload, headers=ACME_GATEWAY)
    assert gateway_key.status_code == 403
    assert "admin key" in _error(gateway_key)["message"]
    assert (await http.get("/sessions", headers=ACME_GATEWAY)).status_code == 403
    assert await redis.llen(Keys.admin_queue(ROOM)) == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"room_url": ROOM}, "message"),
        ({"message": SAY}, None),
        ({"room_url": ROOM, "session_id": "s", "message": SAY}, None),
        ({"room_url": ROOM, "message": {"type": "say"}}, "message.text"),
        ({"room_url": ROOM, "message": {"type": "say", "text": ""}}, "message.text"),
        ({"room_url": ROOM, "message": {"type": "say", "text": 5}}, "message.text"),
        ({"room_url": ROOM, "message": {"type": "say", "text": "x" * 5000}}, "message.text"),
        ({"room_url": ROOM, "message": {"type": "say", "text": "hi", "loud": 1}}, "message.loud"),
        ({"room_url": ROOM, "message": {"type": "append_context", "content": "c", "role": "x"}},
         "message.role"),
        ({"room_url": ROOM, "message": {"text": "no type"}}, "message.type"),
        ({"room_url": ROOM, "message": {"type": "Bad Type!"}}, "message.type"),
        ({"room_url": ROOM, "message": "say hi"}, "message"),
        ({"room_url": "https://evil.example.com/room", "message": SAY}, "room_url"),
        ({"room_url": ROOM, "message": SAY, "extra": 1}, "extra"),
    ],
)  # fmt: skip
async def test_malformed_requests_are_422_naming_the_field(
    http: httpx.AsyncClient, redis: Redis, payload: dict[str, Any], field: str | None
) -> None:
    response = await http.post("/admin", json=payload, headers=ACME)
    assert response.status_code == 422, response.text
    error = _error(response)
    if field is not None:
        assert error["field"] == field
    assert error["message"]
    assert await redis.keys("admin:*") == []


async def test_bodies_that_are_not_json_objects_are_400(http: httpx.AsyncClient) -> None:
    for body in (b"{not json", b"[1, 2]"):
        response = await http.post(
            "/admin", content=body, headers={**ACME, "content-type": "application/json"}
        )
        assert response.status_code == 400, response.text


async def test_a_cloudevent_of_another_type_is_400(http: httpx.AsyncClient) -> None:
    headers, body = cloudevents_codec.encode(
        "io.voicefleet.bot.join", "/ops", {"room_url": ROOM, "message": SAY}
    )
    response = await http.post("/", content=body, headers={**headers, **ACME})
    assert response.status_code == 400
    assert _error(response)["field"] == "type"


async def test_another_tenants_session_is_404_and_an_ended_one_409(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    theirs = await _session(redis, tenant="globex")
    response = await http.post(
        "/admin", json={"session_id": theirs.session_id, "message": SAY}, headers=ACME
    )
    assert response.status_code == 404
    ended = await _session(redis, status=SessionStatus.ENDED)
    response = await http.post(
        "/admin", json={"session_id": ended.session_id, "message": SAY}, headers=ACME
    )
    assert response.status_code == 409
    assert "ended" in _error(response)["message"]


async def test_another_tenants_message_is_404(http: httpx.AsyncClient) -> None:
    sent = await http.post("/admin", json={"room_url": ROOM, "message": SAY}, headers=ACME)
    message_id = sent.json()["id"]
    assert (await http.get(f"/admin/messages/{message_id}", headers=GLOBEX)).status_code == 404
    assert (await http.get("/admin/messages/nope", headers=ACME)).status_code == 404


async def test_unknown_paths_and_methods_are_404_and_405(http: httpx.AsyncClient) -> None:
    assert (await http.get("/nope", headers=ACME)).status_code == 404
    assert (await http.get("/admin", headers=ACME)).status_code == 405


# sessions -------------------------------------------------------------------------------------


async def test_sessions_lists_the_tenants_active_sessions_only(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    mine = await _session(redis, room_url=ROOM)
    timings = {"launch_to_claimed_ms": 412.5, "claimed_to_ready_ms": 280.0}
    await SessionStore(redis).record_timings(mine.session_id, cold_start=True, **timings)
    await _session(redis, tenant="globex")
    ended = await _session(redis)
    await SessionStore(redis).finish(ended.session_id, SessionStatus.ENDED, reason="client left")

    response = await http.get("/sessions", headers=ACME)
    assert response.status_code == 200
    assert_documented("admin", "GET", "/sessions", 200, response.json())
    sessions = response.json()["sessions"]
    assert [s["session_id"] for s in sessions] == [mine.session_id]
    listed = sessions[0]
    assert (listed["status"], listed["room_url"], listed["tenant"], listed["runner"]) == (
        "joined",
        ROOM,
        "acme",
        "runner-1",
    )
    assert listed["age_s"] >= 5
    # How it started, as far as it has: a cold start, not yet speaking.
    assert {k: listed[k] for k in ("cold_start", *timings, "ready_to_first_audio_ms")} == {
        "cold_start": True,
        **timings,
        "ready_to_first_audio_ms": None,
    }


async def test_a_session_shows_the_admin_messages_it_processed(
    http: httpx.AsyncClient, redis: Redis
) -> None:
    session = await _session(redis)
    sent = await http.post(
        "/admin", json={"session_id": session.session_id, "message": SAY}, headers=ACME
    )
    queue = AdminQueue(redis)
    claimed = await queue.claim(session.session_id, session.session_id)
    assert claimed is not None
    await queue.finish(claimed, AdminStatus.PROCESSED, session_id=session.session_id)

    view = (await http.get(f"/sessions/{session.session_id}", headers=ACME)).json()
    assert_documented("admin", "GET", "/sessions/{session_id}", 200, view)
    assert view["status"] == "joined"
    assert [(m["id"], m["type"], m["status"]) for m in view["admin_messages"]] == [
        (sent.json()["id"], "say", "processed")
    ]
    assert (await http.get(f"/sessions/{session.session_id}", headers=GLOBEX)).status_code == 404
