"""The fuzz suite: generated requests to the gateway, the admin function and Mesh.

Every answer must be below 500, carry no stack trace, and (for the functions) say in JSON
what was wrong; Mesh must report no internal error; afterwards every service is healthy
and every session stored is a whole record. The apps run in-process (httpx's ASGI
transport, as a server would call them) over a real Redis and SQLite, behind a broker that
accepts every launch, a fake Daily REST API and a stand-in runner that answers signalling.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import Call, Known, function_call, mesh_call
from tests.support.daily import FakeDaily
from tests.support.sdp import AUDIO_OFFER_SDP
from tests.support.servers import serving
from tests.support.services import (
    ADMIN_KEY,
    GATEWAY_KEY,
    MESH_SERVICE_TOKEN,
    MESH_USER_TOKEN,
    apps,
)
from tests.support.sink import CountingSink
from voicefleet.contracts import Keys, SessionRecord
from voicefleet.redis_conn import connect
from voicefleet.signalling import SignallingRelay, SignalMessage, SignalReply

pytestmark = pytest.mark.asyncio(loop_scope="module")

BATCH = 10  # requests sent at once per generated example
EXAMPLES = {"gateway": 500, "admin": 250, "mesh": 250}  # 10,000 requests in all
SENT: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()
LIMITS: Counter[str] = Counter()  # Mesh's refusals by the limit they name


def fuzz(service: str) -> settings:
    return settings(
        max_examples=EXAMPLES[service],
        deadline=None,
        database=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Stack:
    clients: dict[str, httpx.AsyncClient]
    known: Known


async def _stand_in_runner(redis_url: str, sink: CountingSink) -> None:
    """Answers every launched session's offers and ICE candidates, as a runner would."""
    client = connect(redis_url, blocking=True)
    relay = SignallingRelay(client)
    try:
        while True:
            inboxes = [Keys.session_inbox(s) for s in sorted(sink.session_ids)]
            popped = await client.blpop(inboxes, timeout=0.05) if inboxes else None
            if popped is None:
                await asyncio.sleep(0.01)
                continue
            session_id = popped[0].split(":")[1]
            message = SignalMessage.model_validate_json(popped[1])
            answer = {"sdp": AUDIO_OFFER_SDP, "type": "answer", "pc_id": uuid.uuid4().hex}
            data = answer if message.kind == "offer" else {}
            if message.kind != "end":
                await relay.reply(session_id, message.request_id, SignalReply(ok=True, data=data))
    finally:
        await client.aclose()


async def _seed(clients: dict[str, httpx.AsyncClient]) -> Known:
    gateway = {"Authorization": f"Bearer {GATEWAY_KEY}"}
    sessions = []
    for _ in range(3):
        started = await clients["gateway"].post("/start", json={}, headers=gateway)
        sessions.append(started.json()["sessionId"])
    joined = await clients["gateway"].post(
        "/join", json={"room_url": "https://acme.daily.co/seed"}, headers=gateway
    )
    sessions.append(joined.json()["session_id"])
    sent = await clients["admin"].post(
        "/admin",
        json={"session_id": sessions[0], "message": {"type": "say", "text": "hello"}},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    return Known(
        session_ids=sessions,
        message_ids=[sent.json()["id"]],
        keys={
            "gateway": [GATEWAY_KEY, "key-globex", ADMIN_KEY],
            "admin": [ADMIN_KEY, GATEWAY_KEY],
            "mesh": [MESH_USER_TOKEN, MESH_SERVICE_TOKEN, GATEWAY_KEY],
        },
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    redis = connect(redis_url)
    await redis.flushdb()
    await redis.aclose()
    sink, daily = CountingSink(), FakeDaily()
    data = tmp_path_factory.mktemp("fuzz")
    async with (
        serving(sink.app) as sink_url,
        serving(daily.app) as daily_url,
        apps(redis_url, sink_url, data, DAILY_API_KEY="fuzz", DAILY_API_URL=daily_url) as made,
    ):
        runner = asyncio.create_task(_stand_in_runner(redis_url, sink))
        clients = {
            name: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                base_url=f"http://{name}",
                timeout=30,
            )
            for name, app in (("gateway", made.gateway), ("admin", made.admin), ("mesh", made.mesh))
        }
        try:
            yield Stack(clients, await _seed(clients))
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            for client in clients.values():
                await client.aclose()


async def _send(stack: Stack, call: Call) -> httpx.Response:
    request = stack.clients[call.service].build_request(
        call.method, call.path, headers=call.headers, content=call.body
    )
    return await stack.clients[call.service].send(request)


def _check(call: Call, response: httpx.Response) -> None:
    SENT[call.service] += 1
    STATUSES[response.status_code] += 1
    where = f"{call.method} {call.path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, where
    assert "Traceback" not in response.text and 'File "/' not in response.text, where
    if call.service == "mesh":
        if response.headers.get("content-type", "").startswith("application/json"):
            for error in response.json().get("errors") or []:
                code = error.get("extensions", {}).get("code")
                if code in ("QUERY_TOO_COMPLEX", "QUERY_TOO_DEEP", "ANSWER_TOO_LARGE"):
                    LIMITS[code] += 1
        if response.status_code == 200:
            errors = response.json().get("errors") or []
            codes = {e.get("extensions", {}).get("code") for e in errors}
            assert "INTERNAL_SERVER_ERROR" not in codes, where
        return
    if response.status_code == 404 and "%0A" in call.path.upper() and response.text == "Not Found":
        # functions-framework routes `/{path:path}`, which matches no line break inside a
        # path: its own plain 404 answers before the function is called.
        return
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), where
        assert response.json()["error"]["message"], where


async def _fuzz(stack: Stack, data: st.DataObject, calls: st.SearchStrategy[Call]) -> None:
    batch = data.draw(st.lists(calls, min_size=BATCH, max_size=BATCH))
    for call, response in zip(
        batch, await asyncio.gather(*(_send(stack, c) for c in batch)), strict=True
    ):
        _check(call, response)


@fuzz("gateway")
@given(data=st.data())
async def test_gateway(stack: Stack, data: st.DataObject) -> None:
    await _fuzz(stack, data, function_call("gateway", stack.known))


@fuzz("admin")
@given(data=st.data())
async def test_admin(stack: Stack, data: st.DataObject) -> None:
    await _fuzz(stack, data, function_call("admin", stack.known))


@fuzz("mesh")
@given(data=st.data())
async def test_mesh(stack: Stack, data: st.DataObject) -> None:
    await _fuzz(stack, data, mesh_call(stack.known))


async def test_healthy_after(stack: Stack, redis_url: str) -> None:
    for client in stack.clients.values():
        assert (await client.get("/healthz")).status_code == 200
    # No half-made session: every record the fuzzing left is whole.
    redis = connect(redis_url)
    try:
        async for key in redis.scan_iter("session:*"):
            if key.count(":") == 1:
                SessionRecord.from_redis(await redis.hgetall(key))  # type: ignore[arg-type]
    finally:
        await redis.aclose()
    print(f"\nfuzz: {sum(SENT.values())} requests {dict(SENT)}; statuses {json.dumps(STATUSES)}")
    print(f"fuzz: Mesh refusals by limit {dict(LIMITS)}")
    if set(SENT) == set(EXAMPLES):  # the whole suite ran
        assert sum(SENT.values()) >= sum(EXAMPLES.values()) * BATCH
