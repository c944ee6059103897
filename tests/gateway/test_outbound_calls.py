"""`POST /calls`: the gateway places a call with the `twilio` client against a stand-in of
Twilio's REST API, the session follows Twilio's signed status callbacks, and the placed call's
media stream opens with the token its TwiML carries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from harness.twilio_caller import TwilioCaller, parse_twiml, sign
from tests.support.servers import serving
from tests.support.services import phone_gateway
from tests.support.sink import CountingSink
from tests.support.twilio_api import INVALID_NUMBER, TwilioApi
from voicefleet.contracts import Keys
from voicefleet.media_relay import MediaStream
from voicefleet.signalling import SignallingRelay

ACCOUNT = "AC" + "3" * 32
TOKEN = "outbound-auth-token"
KEY = {"Authorization": "Bearer key-acme"}
CALL = {"to": "+14155550123", "from": "+14155550999", "body": {"greeting": "Hi, it's Acme."}}


@dataclass
class Stack:
    url: str
    http: httpx.AsyncClient
    twilio: TwilioApi
    sink: CountingSink
    redis: Redis

    async def status(self, call_sid: str, status: str, *, token: str = TOKEN) -> int:
        url = f"{self.url}/telephony/twilio/status"
        params = {"AccountSid": ACCOUNT, "CallSid": call_sid, "CallStatus": status}
        headers = {"X-Twilio-Signature": sign(url, params, token)}
        return (await self.http.post(url, data=params, headers=headers)).status_code

    async def session(self, session_id: str) -> dict[str, Any]:
        return dict((await self.http.get(f"/sessions/{session_id}", headers=KEY)).json())


async def _stack(redis: Redis, redis_url: str, **env: str) -> AsyncIterator[Stack]:
    twilio, sink = TwilioApi({ACCOUNT: TOKEN}), CountingSink()
    accounts = {ACCOUNT: {"tenant": "acme", "auth_token": TOKEN, "caller_number": "e164"}}
    async with serving(twilio.app) as twilio_url, serving(sink.app) as sink_url:
        settings = {
            "REDIS_URL": redis_url,
            "K_SINK": sink_url,
            "VOICEFLEET_API_KEYS": "acme:key-acme,globex:key-globex",
            "VOICEFLEET_TWILIO_ACCOUNTS": json.dumps(accounts),
            "TWILIO_API_URL": twilio_url,
            **env,
        }
        async with (
            phone_gateway(**settings) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield Stack(url, http, twilio, sink, redis)


@pytest.fixture
async def stack(redis: Redis, redis_url: str) -> AsyncIterator[Stack]:
    async for running in _stack(redis, redis_url):
        yield running


async def test_a_placed_call_is_a_session_that_follows_twilio(stack: Stack) -> None:
    headers = {**KEY, "Idempotency-Key": "call-1"}
    placed = await stack.http.post("/calls", json=CALL, headers=headers)
    assert placed.status_code == 201, placed.text
    session = placed.json()
    assert (session["transport"], session["status"], session["call_status"]) == (
        "twilio",
        "queued",
        "queued",
    )
    assert session["caller"] == "+14155550123"
    (call,) = stack.twilio.calls
    assert (call.one("To"), call.one("From")) == ("+14155550123", "+14155550999")
    assert call.one("StatusCallback") == f"{stack.url}/telephony/twilio/status"
    assert set(call.form["StatusCallbackEvent"]) == {
        "initiated",
        "ringing",
        "answered",
        "completed",
    }
    answer = parse_twiml(200, call.one("Twiml"))
    assert answer.stream_url == stack.url.replace("http", "ws") + "/telephony/twilio/stream"
    assert stack.sink.session_ids == {session["session_id"]}

    # A retry with the same key is the same call, placed once.
    again = await stack.http.post("/calls", json=CALL, headers=headers)
    assert again.json()["session_id"] == session["session_id"] and len(stack.twilio.calls) == 1

    # Twilio reports the call's progress; the session shows it.
    assert await stack.status(call.sid, "ringing") == 204
    assert (await stack.session(session["session_id"]))["call_status"] == "ringing"
    assert await stack.status(call.sid, "in-progress") == 204
    assert (await stack.session(session["session_id"]))["call_status"] == "in-progress"
    assert await stack.status(call.sid, "ringing", token="forged") == 403

    # Answered, Twilio opens the stream with the TwiML's token and the call's own CallSid.
    callee = TwilioCaller(stack.url, account_sid=ACCOUNT, auth_token=TOKEN)
    callee.call_sid, callee.answer = call.sid, answer
    await callee.connect()
    inbound = MediaStream(stack.redis, Keys.media_in(session["session_id"]))
    received: list[object] = []
    async with asyncio.timeout(5):
        while len(received) < 2:
            received += await inbound.receive(1.0)
    assert json.loads(str(received[1]))["start"]["callSid"] == call.sid
    await callee.close()


async def test_callbacks_out_of_order_never_undo_a_later_step(stack: Stack) -> None:
    """Twilio does not promise its callbacks' order: a late `ringing` after `completed`, or a
    late `busy` after the call was answered, changes nothing."""
    placed = (await stack.http.post("/calls", json=CALL, headers=KEY)).json()
    (call,) = stack.twilio.calls
    for status in ("in-progress", "ringing", "initiated", "completed", "in-progress", "busy"):
        assert await stack.status(call.sid, status) == 204
    record = await stack.session(placed["session_id"])
    assert record["call_status"] == "completed"
    assert record["reason"] != "the line was busy"
    # A status Twilio does not send is not recorded.
    assert await stack.status(call.sid, "on-hold") == 204
    assert (await stack.session(placed["session_id"]))["call_status"] == "completed"


async def test_an_unanswered_call_ends_its_session_and_its_bot(stack: Stack) -> None:
    placed = (await stack.http.post("/calls", json=CALL, headers=KEY)).json()
    (call,) = stack.twilio.calls
    assert await stack.status(call.sid, "no-answer") == 204
    record = await stack.session(placed["session_id"])
    assert (record["status"], record["reason"], record["call_status"]) == (
        "failed",
        "no answer",
        "no-answer",
    )
    told = await SignallingRelay(stack.redis).receive(placed["session_id"], timeout_s=1)
    assert told is not None and (told.kind, told.payload["reason"]) == ("end", "no answer")
    # Its token cannot open a stream for another call.
    other = TwilioCaller(stack.url, account_sid=ACCOUNT, auth_token=TOKEN)
    other.answer = parse_twiml(200, call.one("Twiml"))
    await other.connect()
    await asyncio.wait_for(other.closed.wait(), 5)
    assert other.close_code == 1008


async def test_a_call_twilio_refuses_is_a_clear_error_and_a_failed_session(stack: Stack) -> None:
    refused = await stack.http.post("/calls", json={**CALL, "to": INVALID_NUMBER}, headers=KEY)
    assert refused.status_code == 502
    assert "Invalid 'To' Phone Number" in refused.json()["error"]["message"]
    (session_id,) = stack.sink.session_ids
    record = await stack.session(session_id)
    assert record["status"] == "failed" and "Twilio refused the call" in record["reason"]


async def test_bad_requests_and_limits(redis: Redis, redis_url: str) -> None:
    async for stack in _stack(redis, redis_url, VOICEFLEET_MAX_SESSIONS_PER_TENANT="1"):
        bad = await stack.http.post("/calls", json={**CALL, "to": "0123"}, headers=KEY)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "to"
        long = await stack.http.post(
            "/calls", json={**CALL, "body": {"greeting": "x" * 600}}, headers=KEY
        )
        assert long.status_code == 422 and long.json()["error"]["field"] == "body.greeting"
        assert (await stack.http.post("/calls", json=CALL)).status_code == 401
        other = {"Authorization": "Bearer key-globex"}
        assert (await stack.http.post("/calls", json=CALL, headers=other)).status_code == 409
        assert (await stack.http.post("/calls", json=CALL, headers=KEY)).status_code == 201
        limited = await stack.http.post("/calls", json=CALL, headers=KEY)
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        assert len(stack.twilio.calls) == 1
