"""`POST /calls` through Telnyx: the gateway dials with Call Control against a stand-in of
Telnyx's REST API (tests/support/telnyx_api.py), the session follows Telnyx's signed call
webhooks, the placed call's media stream opens with the token its client state carries, and a
stream that ends hangs the call up (after "all lines are busy" if no runner took it)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis

from functions.gateway.twiml import BUSY_MESSAGE
from harness.telnyx_caller import TelnyxCaller
from tests.support.servers import serving
from tests.support.services import phone_gateway
from tests.support.sink import CountingSink
from tests.support.telnyx_api import INVALID_NUMBER, PlacedCall, TelnyxApi
from voicefleet.contracts import Keys
from voicefleet.media_relay import MediaStream
from voicefleet.signalling import SignallingRelay

ACCOUNT = "telnyx-texml-account"
API_KEY = "KEY-telnyx-outbound"
CONNECTION = "call-control-app-1"
KEY = {"Authorization": "Bearer key-acme"}
CALL = {"to": "+14155550123", "from": "+14155550999", "body": {"greeting": "Hi, it's Acme."}}


@dataclass
class Stack:
    url: str
    http: httpx.AsyncClient
    telnyx: TelnyxApi
    sink: CountingSink
    redis: Redis

    async def session(self, session_id: str) -> dict[str, Any]:
        return dict((await self.http.get(f"/sessions/{session_id}", headers=KEY)).json())

    async def place(self, **extra: Any) -> tuple[dict[str, Any], PlacedCall]:
        placed = await self.http.post("/calls", json={**CALL, **extra}, headers=KEY)
        assert placed.status_code == 201, placed.text
        return placed.json(), self.telnyx.calls[-1]

    def callee(self, call: PlacedCall) -> TelnyxCaller:
        callee = TelnyxCaller(self.url, account_sid=ACCOUNT, signing_key=self.telnyx.signing_key)
        callee.answer_placed(call.call_control_id, call.body)
        return callee


async def _stack(redis: Redis, redis_url: str, **env: str) -> AsyncIterator[Stack]:
    telnyx, sink = TelnyxApi(API_KEY, CONNECTION), CountingSink()
    accounts = {
        ACCOUNT: {
            "tenant": "acme",
            "public_key": telnyx.public_key,
            "api_key": API_KEY,
            "connection_id": CONNECTION,
            "caller_number": "e164",
        }
    }
    async with serving(telnyx.app) as telnyx_url, serving(sink.app) as sink_url:
        settings = {
            "REDIS_URL": redis_url,
            "K_SINK": sink_url,
            "VOICEFLEET_API_KEYS": "acme:key-acme,globex:key-globex",
            "VOICEFLEET_TELNYX_ACCOUNTS": json.dumps(accounts),
            "TELNYX_API_URL": telnyx_url,
            **env,
        }
        async with (
            phone_gateway(**settings) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield Stack(url, http, telnyx, sink, redis)


@pytest.fixture
async def stack(redis: Redis, redis_url: str) -> AsyncIterator[Stack]:
    async for running in _stack(redis, redis_url):
        yield running


async def _relayed(redis: Redis, session_id: str, count: int) -> list[Any]:
    """The first `count` messages the gateway relayed towards the session's runner."""
    inbound = MediaStream(redis, Keys.media_in(session_id))
    received: list[Any] = []
    async with asyncio.timeout(10):
        while len(received) < count:
            received += await inbound.receive(1.0)
    return received


async def _until_failed(stack: Stack, session_id: str) -> dict[str, Any]:
    """The record once it has failed (reading it runs the sweep that fails a session no
    runner took in time)."""
    async with asyncio.timeout(30):
        while True:
            record = await stack.session(session_id)
            if record["status"] == "failed":
                return record
            await asyncio.sleep(0.2)


async def test_a_placed_call_is_a_session_that_follows_telnyx(stack: Stack) -> None:
    headers = {**KEY, "Idempotency-Key": "call-1"}
    placed = await stack.http.post("/calls", json=CALL, headers=headers)
    assert placed.status_code == 201, placed.text
    session = placed.json()
    assert (session["transport"], session["status"], session["call_status"]) == (
        "telnyx",
        "queued",
        "queued",
    )
    assert session["caller"] == "+14155550123"
    (call,) = stack.telnyx.calls
    dial = call.body
    assert (dial["connection_id"], dial["to"], dial["from"]) == (
        CONNECTION,
        "+14155550123",
        "+14155550999",
    )
    assert dial["stream_url"] == stack.url.replace("http", "ws") + "/telephony/telnyx/stream"
    assert (dial["stream_track"], dial["stream_bidirectional_mode"]) == ("inbound_track", "rtp")
    assert dial["stream_bidirectional_codec"] == "PCMU"
    assert dial["webhook_url"] == f"{stack.url}/telephony/telnyx/events"
    assert dial["command_id"] == session["session_id"]
    assert base64.b64decode(dial["client_state"])  # the stream token, not in any URL
    assert stack.sink.session_ids == {session["session_id"]}

    # A retry with the same key is the same call, dialled once.
    again = await stack.http.post("/calls", json=CALL, headers=headers)
    assert again.json()["session_id"] == session["session_id"] and len(stack.telnyx.calls) == 1

    # Telnyx reports the call's progress; the session shows it.
    assert await stack.telnyx.send_event(call, "call.initiated") == 200
    assert (await stack.session(session["session_id"]))["call_status"] == "initiated"
    assert await stack.telnyx.send_event(call, "call.answered") == 200
    assert (await stack.session(session["session_id"]))["call_status"] == "in-progress"

    # Answered, Telnyx opens the stream with the Dial's client state and the call's id.
    callee = stack.callee(call)
    await callee.connect()
    received = await _relayed(stack.redis, session["session_id"], 2)
    start = json.loads(str(received[1]))["start"]
    assert start["call_control_id"] == call.call_control_id and "client_state" not in start
    await callee.close()
    # The token is spent.
    replay = stack.callee(call)
    await replay.connect()
    await asyncio.wait_for(replay.closed.wait(), 10)
    assert replay.close_code == 1008

    # The stream is over: the gateway hangs the call up (Call Control keeps it up otherwise).
    assert await stack.telnyx.send_event(call, "streaming.stopped") == 200
    assert (call.call_control_id, "hangup", {}) in stack.telnyx.commands
    assert await stack.telnyx.send_event(call, "call.hangup", hangup_cause="normal_clearing") == 200
    assert (await stack.session(session["session_id"]))["call_status"] == "completed"


async def test_webhooks_unsigned_or_signed_by_another_key_are_refused(stack: Stack) -> None:
    session, call = await stack.place()
    body = stack.telnyx.event_body(call, "call.hangup", hangup_cause="user_busy")
    forged = stack.telnyx.signed(body, key=Ed25519PrivateKey.generate())
    unsigned = {"content-type": "application/json"}
    for headers in (forged, unsigned):
        sent = await stack.http.post("/telephony/telnyx/events", content=body, headers=headers)
        assert sent.status_code == 403, sent.text
    garbage = await stack.http.post(
        "/telephony/telnyx/events", content=b"not json", headers=stack.telnyx.signed(b"not json")
    )
    assert garbage.status_code == 403
    record = await stack.session(session["session_id"])
    assert (record["status"], record["call_status"]) == ("queued", "queued")


@pytest.mark.parametrize(
    ("cause", "status", "reason"),
    [
        ("user_busy", "busy", "the line was busy"),
        ("timeout", "no-answer", "no answer"),
        ("call_rejected", "busy", "the line was busy"),
        ("unspecified", "failed", "the call could not be connected"),
    ],
)
async def test_an_unanswered_call_ends_its_session_and_its_bot(
    stack: Stack, cause: str, status: str, reason: str
) -> None:
    session, call = await stack.place()
    assert await stack.telnyx.send_event(call, "call.initiated") == 200
    assert await stack.telnyx.send_event(call, "call.hangup", hangup_cause=cause) == 200
    record = await stack.session(session["session_id"])
    assert (record["status"], record["reason"], record["call_status"]) == (
        "failed",
        reason,
        status,
    )
    told = await SignallingRelay(stack.redis).receive(session["session_id"], timeout_s=1)
    assert told is not None and (told.kind, told.payload["reason"]) == ("end", reason)
    # Its token cannot open a stream for another call.
    other = stack.callee(call)
    other.call_control_id = "v3:another-call"
    await other.connect()
    await asyncio.wait_for(other.closed.wait(), 10)
    assert other.close_code == 1008


async def test_a_placed_call_no_runner_takes_hears_lines_busy(redis: Redis, redis_url: str) -> None:
    async for stack in _stack(redis, redis_url, VOICEFLEET_QUEUE_TIMEOUT_S="0.5"):
        session, call = await stack.place()
        assert await stack.telnyx.send_event(call, "call.answered") == 200
        callee = stack.callee(call)
        await callee.connect()
        await _until_failed(stack, session["session_id"])
        await asyncio.wait_for(callee.closed.wait(), 30)
        assert await stack.telnyx.send_event(call, "streaming.stopped") == 200
        speak = (call.call_control_id, "speak", {"payload": BUSY_MESSAGE})
        assert [(c, a, {"payload": b["payload"]}) for c, a, b in stack.telnyx.commands] == [speak]
        # Once it is said, the call is hung up.
        assert await stack.telnyx.send_event(call, "call.speak.ended", status="completed") == 200
        assert stack.telnyx.commands[-1][:2] == (call.call_control_id, "hangup")
        await callee.close()


async def test_a_call_telnyx_refuses_is_a_clear_error_and_a_failed_session(stack: Stack) -> None:
    refused = await stack.http.post("/calls", json={**CALL, "to": INVALID_NUMBER}, headers=KEY)
    assert refused.status_code == 502
    assert "Invalid phone number" in refused.json()["error"]["message"]
    (session_id,) = stack.sink.session_ids
    record = await stack.session(session_id)
    assert record["status"] == "failed" and "Telnyx refused the call" in record["reason"]


async def test_bad_requests_providers_and_limits(redis: Redis, redis_url: str) -> None:
    async for stack in _stack(redis, redis_url, VOICEFLEET_MAX_SESSIONS_PER_TENANT="1"):
        bad = await stack.http.post("/calls", json={**CALL, "provider": "plivo"}, headers=KEY)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "provider"
        twilio = await stack.http.post("/calls", json={**CALL, "provider": "twilio"}, headers=KEY)
        assert twilio.status_code == 409 and "Twilio" in twilio.json()["error"]["message"]
        other = {"Authorization": "Bearer key-globex"}
        assert (await stack.http.post("/calls", json=CALL, headers=other)).status_code == 409
        first = await stack.http.post("/calls", json={**CALL, "provider": "telnyx"}, headers=KEY)
        assert first.status_code == 201
        limited = await stack.http.post("/calls", json=CALL, headers=KEY)
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        assert len(stack.telnyx.calls) == 1
        # An event for a call the fleet did not place is not found, even signed.
        stray = PlacedCall("v3:not-ours", stack.telnyx.calls[0].body)
        assert await stack.telnyx.send_event(stray, "call.answered") == 404
