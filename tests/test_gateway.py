"""The gateway function over real HTTP, as functions-framework serves it, against a real Redis.

A capture sink stands in for the broker (K_SINK) and records the launch CloudEvents; a fake
Daily REST API stands in for Daily; a fake runner answers signalling through Redis as the real
runner does. Every test asserts what a client or an operator would see.

The sink and the gateway are served once for the module (uvicorn takes ~0.2 s to stop a
server); each test gets fresh settings (the gateway rebuilds its context from the environment
on the next request), an empty Redis and an empty sink.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cloudevents.http import CloudEvent
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from functions import asgi_app
from functions.gateway import context as gateway_context
from tests.support.documented import assert_documented
from tests.support.sdp import AUDIO_OFFER_SDP, NOT_OFFERS
from tests.support.servers import free_port, serving
from voicefleet import cloudevents_codec
from voicefleet.contracts import GATEWAY_SOURCE, JOIN_EVENT, LAUNCH_EVENT, Keys, LaunchPayload
from voicefleet.http_client import async_client
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore
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

pytestmark = pytest.mark.asyncio(loop_scope="module")


# stand-ins for the services around the gateway ----------------------------------------------


class Sink:
    """The broker (K_SINK): records the CloudEvents it accepts; answers `status`."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/", self._receive, methods=["POST"])])
        self.reset()

    def reset(self) -> None:
        self.status = 202
        self.events: list[CloudEvent] = []
        self.refused = 0
        self._accepted: asyncio.Queue[CloudEvent] = asyncio.Queue()

    async def _receive(self, request: Request) -> Response:
        event = cloudevents_codec.parse(request.headers, await request.body())
        if self.status >= 300:
            self.refused += 1
            return Response(status_code=self.status)
        self.events.append(event)
        self._accepted.put_nowait(event)
        return Response(status_code=self.status)

    @property
    def launches(self) -> list[dict[str, Any]]:
        return [cloudevents_codec.data_of(e) for e in self.events if e["type"] == LAUNCH_EVENT]

    async def next_launch(self) -> dict[str, Any]:
        event = await asyncio.wait_for(self._accepted.get(), 5)
        assert event["type"] == LAUNCH_EVENT
        return cloudevents_codec.data_of(event)


class FakeDaily:
    """Daily's REST API: `POST /rooms` and `POST /meeting-tokens`, or a 500 when `failing`."""

    def __init__(self) -> None:
        self.failing = False
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        self._tokens = 0
        self.app = Starlette(
            routes=[
                Route("/rooms", self._rooms, methods=["POST"]),
                Route("/meeting-tokens", self._token, methods=["POST"]),
            ]
        )

    async def _record(self, request: Request) -> Response | None:
        self.requests.append(
            (request.url.path, request.headers.get("authorization"), await request.json())
        )
        if self.failing:
            return JSONResponse({"error": "server-error"}, status_code=500)
        return None

    async def _rooms(self, request: Request) -> Response:
        failed = await self._record(request)
        name = "r-" + uuid.uuid4().hex[:8]
        return failed or JSONResponse({"name": name, "url": f"https://acme.daily.co/{name}"})

    async def _token(self, request: Request) -> Response:
        failed = await self._record(request)
        self._tokens += 1
        return failed or JSONResponse({"token": f"daily-token-{self._tokens}"})


@dataclass
class Gateway:
    http: httpx.AsyncClient
    sink: Sink
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


async def _forget_context() -> None:
    await gateway_context.context.reset()


@dataclass
class Servers:
    sink: Sink
    sink_url: str
    gateway_url: str


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def servers() -> AsyncIterator[Servers]:
    """The capture sink and the gateway (functions-framework's ASGI app), over real HTTP."""
    sink = Sink()
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


# auth ---------------------------------------------------------------------------------------


async def test_healthz_needs_no_key(gateway: Gateway) -> None:
    response = await gateway.http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic key-acme"},
        {"Authorization": "key-acme"},
    ],
    ids=["none", "wrong", "empty", "basic", "no-scheme"],
)
async def test_requests_without_a_valid_key_are_refused(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    session_id = await gateway.join()
    calls = [
        gateway.http.post("/join", json={"room_url": ROOM}, headers=headers),
        gateway.http.post("/start", json={}, headers=headers),
        gateway.http.get(f"/sessions/{session_id}", headers=headers),
        gateway.http.delete(f"/sessions/{session_id}", headers=headers),
    ]
    for response in await asyncio.gather(*calls):
        assert response.status_code == 401, response.text
        error_of(response)
    assert len(gateway.sink.launches) == 1
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_each_tenant_uses_its_own_key(gateway: Gateway) -> None:
    acme = await gateway.join()
    globex = await gateway.join(headers=GLOBEX)
    assert (await gateway.session(acme))["tenant"] == "acme"
    assert (await gateway.session(globex, headers=GLOBEX))["tenant"] == "globex"


async def test_another_tenants_session_does_not_exist(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    path = f"/sessions/{session_id}"

    calls = [
        gateway.http.get(path, headers=GLOBEX),
        gateway.http.delete(path, headers=GLOBEX),
        gateway.http.post(f"{path}/api/offer", json=OFFER, headers=GLOBEX),
        gateway.http.patch(f"{path}/api/offer", json=CANDIDATES, headers=GLOBEX),
    ]
    missing = await gateway.http.get("/sessions/no-such-session", headers=GLOBEX)
    for response in await asyncio.gather(*calls):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["field"] == "session_id"
        # Indistinguishable from a session that does not exist at all.
        assert response.json().keys() == missing.json().keys()
    assert (await gateway.session(session_id))["status"] == "queued"
    assert await gateway.redis.llen(Keys.session_inbox(session_id)) == 0


# POST /join ---------------------------------------------------------------------------------


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


# CloudEvents at POST / ----------------------------------------------------------------------


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


# idempotency --------------------------------------------------------------------------------


async def test_same_idempotency_key_is_the_same_session(gateway: Gateway) -> None:
    first = await gateway.join(**{"Idempotency-Key": "req-1"})
    again = await gateway.join(**{"Idempotency-Key": "req-1"})
    other = await gateway.join(**{"Idempotency-Key": "req-2"})

    assert first == again != other
    assert [x["session_id"] for x in gateway.sink.launches] == [first, other]


async def test_concurrent_duplicates_launch_once(gateway: Gateway) -> None:
    headers = {**ACME, "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(gateway.http.post("/join", json={"room_url": ROOM}, headers=headers) for _ in range(20))
    )

    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["session_id"] for r in responses}) == 1
    assert len(gateway.sink.launches) == 1
    assert gateway.sink.launches[0]["session_id"] == responses[0].json()["session_id"]


async def test_idempotency_keys_belong_to_one_tenant(gateway: Gateway) -> None:
    acme = await gateway.join(**{"Idempotency-Key": "shared"})
    globex = await gateway.join(headers=GLOBEX, **{"Idempotency-Key": "shared"})

    assert acme != globex
    assert [(x["session_id"], x["tenant"]) for x in gateway.sink.launches] == [
        (acme, "acme"),
        (globex, "globex"),
    ]


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_bad_idempotency_key_is_refused(gateway: Gateway, key: str) -> None:
    response = await gateway.http.post(
        "/join", json={"room_url": ROOM}, headers={**ACME, "Idempotency-Key": key}
    )
    assert response.status_code == 400, response.text
    assert error_of(response)["field"] == "Idempotency-Key"
    assert gateway.sink.events == []


# POST /start --------------------------------------------------------------------------------


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
    async with (
        serving(daily.app) as daily_url,
        make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=daily_url) as gw,
    ):
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
    async with (
        serving(daily.app) as daily_url,
        make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=daily_url) as gw,
    ):
        headers = {**ACME, "Idempotency-Key": "once"}
        first = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)
        again = await gw.http.post("/start", json={"createDailyRoom": True}, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json()["sessionId"] == first.json()["sessionId"]
    assert len(gw.sink.launches) == 1
    assert again.json()["dailyRoom"] == first.json()["dailyRoom"]
    assert again.json()["dailyToken"] == first.json()["dailyToken"]
    assert [path for path, _, _ in daily.requests].count("/rooms") == 1


async def test_concurrent_create_daily_room_duplicates_make_one_session_and_room(
    make_gateway: GatewayFactory,
) -> None:
    daily = FakeDaily()
    async with (
        serving(daily.app) as daily_url,
        make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=daily_url) as gw,
    ):
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
    assert [path for path, _, _ in daily.requests].count("/rooms") == 1
    assert len(gw.sink.launches) == 1


async def test_create_daily_room_when_daily_fails(make_gateway: GatewayFactory) -> None:
    daily = FakeDaily()
    daily.failing = True
    async with (
        serving(daily.app) as daily_url,
        make_gateway(DAILY_API_KEY="daily-key", DAILY_API_URL=daily_url) as gw,
    ):
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


# offers and ICE -----------------------------------------------------------------------------


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


# DELETE /sessions/{id} ----------------------------------------------------------------------


async def test_delete_ends_a_queued_session(gateway: Gateway) -> None:
    session_id = await gateway.join()

    response = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)

    assert response.status_code == 202, response.text
    assert_documented("gateway", "DELETE", "/sessions/{session_id}", 202, response.json())
    assert (response.json()["status"], response.json()["reason"]) == ("ended", "ended by client")
    record = await gateway.session(session_id)
    assert (record["status"], record["reason"]) == ("ended", "ended by client")
    assert record["ended_at"] is not None
    # A runner that picks up the launch late does not start a bot.
    late = await SessionStore(gateway.redis).claim(
        session_id, "late-runner", room_url=ROOM, lease_ms=10_000
    )
    assert (late.claimed, late.reason) == (False, "final")

    again = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)
    assert again.status_code == 200, again.text
    assert_documented("gateway", "DELETE", "/sessions/{session_id}", 200, again.json())
    assert again.json() == record


async def test_delete_tells_the_runner_of_a_running_session(gateway: Gateway) -> None:
    session_id = await gateway.start_webrtc()
    store = SessionStore(gateway.redis)
    assert (await store.claim(session_id, "runner-a", room_url=None, lease_ms=10_000)).claimed

    response = await gateway.http.delete(f"/sessions/{session_id}", headers=ACME)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "starting"  # the runner ends it
    relay = SignallingRelay(gateway.redis)
    message = await relay.receive(session_id, timeout_s=1)
    assert message is not None
    assert (message.kind, message.payload) == ("end", {"reason": "ended by client"})


# sink failures ------------------------------------------------------------------------------


async def test_sink_refusing_the_launch_leaves_nothing_behind(gateway: Gateway) -> None:
    gateway.sink.status = 500
    headers = {**ACME, "Idempotency-Key": "retry-me"}

    response = await gateway.http.post("/join", json={"room_url": ROOM}, headers=headers)

    assert response.status_code == 503, response.text
    assert "retry" in error_of(response)["message"]
    assert gateway.sink.refused == 1
    assert await gateway.stored_keys() == []

    gateway.sink.status = 202
    retry = await gateway.http.post("/join", json={"room_url": ROOM}, headers=headers)
    assert retry.status_code == 202, retry.text
    session_id = retry.json()["session_id"]
    assert [x["session_id"] for x in gateway.sink.launches] == [session_id]
    assert (await gateway.session(session_id))["status"] == "queued"


async def test_sink_down_leaves_nothing_behind(make_gateway: GatewayFactory) -> None:
    port = free_port()
    async with make_gateway(K_SINK=f"http://127.0.0.1:{port}/") as gw:
        headers = {**ACME, "Idempotency-Key": "retry-me"}
        for path, body in [("/join", {"room_url": ROOM}), ("/start", PREBUILT_START)]:
            response = await gw.http.post(path, json=body, headers=headers)
            assert response.status_code == 503, response.text
            error_of(response)
        assert await gw.stored_keys() == []

        async with serving(gw.sink.app, port=port):
            retry = await gw.http.post("/join", json={"room_url": ROOM}, headers=headers)
        assert retry.status_code == 202, retry.text
        assert [x["session_id"] for x in gw.sink.launches] == [retry.json()["session_id"]]


async def test_without_a_sink_nothing_launches(make_gateway: GatewayFactory) -> None:
    async with make_gateway(K_SINK="") as gw:
        response = await gw.http.post("/join", json={"room_url": ROOM}, headers=ACME)
        assert response.status_code == 503, response.text
        assert "K_SINK" in error_of(response)["message"]
        assert await gw.stored_keys() == []


# dead letters -------------------------------------------------------------------------------


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
