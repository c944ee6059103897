"""Phone calls at the gateway: Twilio's signed voice webhook, the TwiML answers, and the media
stream's one-time token, over real HTTP and WebSockets and a real Redis (the broker is a
sink that counts launches; the runner's side of the media path is read from Redis)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from functions.gateway.twiml import BUSY_MESSAGE
from harness.twilio_caller import TwilioCaller, parse_twiml, sign
from tests.support.servers import free_port, serving
from tests.support.services import phone_gateway
from tests.support.sink import CountingSink
from voicefleet.contracts import Keys, SessionRecord
from voicefleet.media_relay import MediaEnd, MediaStream

ACCOUNT = "AC" + "1" * 32
TOKEN = "twilio-auth-token"
OTHER_ACCOUNT = "AC" + "2" * 32


# 20 ms of μ-law at full scale (the byte 0x00), as the bot's voice would be on the line.
LOUD_ULAW = base64.b64encode(bytes(160)).decode()


def _accounts(caller_number: str = "masked") -> str:
    return json.dumps(
        {
            ACCOUNT: {"tenant": "acme", "auth_token": TOKEN, "caller_number": caller_number},
            OTHER_ACCOUNT: {"tenant": "globex", "auth_token": "globex-token"},
        }
    )


@dataclass
class Gateway:
    url: str
    sink: CountingSink
    redis: Redis

    def caller(self, **kwargs: str) -> TwilioCaller:
        return TwilioCaller(self.url, account_sid=ACCOUNT, auth_token=TOKEN, **kwargs)

    async def record(self, session_id: str) -> SessionRecord:
        raw = await self.redis.hgetall(Keys.session(session_id))  # type: ignore[misc]
        return SessionRecord.from_redis(raw)


async def _gateway(redis: Redis, redis_url: str, **env: str) -> AsyncIterator[Gateway]:
    sink = CountingSink()
    async with serving(sink.app) as sink_url:
        settings = {
            "REDIS_URL": redis_url,
            "K_SINK": sink_url,
            "VOICEFLEET_API_KEYS": "acme:key-acme",
            "VOICEFLEET_TWILIO_ACCOUNTS": _accounts(),
            **env,
        }
        async with phone_gateway(**settings) as url:
            yield Gateway(url, sink, redis)


@pytest.fixture
async def gateway(redis: Redis, redis_url: str) -> AsyncIterator[Gateway]:
    async for gw in _gateway(redis, redis_url):
        yield gw


async def _session_of(gw: Gateway) -> str:
    (session_id,) = gw.sink.session_ids
    return session_id


async def test_a_signed_call_gets_a_stream_with_a_one_time_token(gateway: Gateway) -> None:
    caller = gateway.caller()
    answer = await caller.dial()
    assert answer.status == 200, answer.twiml
    # The stream opens on the gateway itself, with no key, tenant or token in its URL.
    assert answer.stream_url == gateway.url.replace("http://", "ws://") + "/telephony/twilio/stream"
    assert set(answer.parameters) == {"token"} and len(answer.parameters["token"]) >= 40
    assert "acme" not in answer.twiml and "key-acme" not in answer.twiml
    assert 'action="' + gateway.url + '/telephony/twilio/after-stream"' in answer.twiml
    record = await gateway.record(await _session_of(gateway))
    assert (record.tenant, record.transport.value, record.status.value) == (
        "acme",
        "twilio",
        "queued",
    )
    assert record.caller == "+1******0100"  # masked, as the tenant chose
    # Redis keeps a hash of the token, never the token.
    assert await gateway.redis.exists(Keys.stream_token(answer.parameters["token"])) == 0


async def test_e164_callers_are_kept_when_the_tenant_says_so(redis: Redis, redis_url: str) -> None:
    async for gw in _gateway(redis, redis_url, VOICEFLEET_TWILIO_ACCOUNTS=_accounts("e164")):
        await gw.caller().dial()
        assert (await gw.record(await _session_of(gw))).caller == "+14155550100"


async def test_bad_signatures_are_refused_before_any_session(gateway: Gateway) -> None:
    caller = gateway.caller()
    assert (await caller.dial(signature="bm90IGEgc2lnbmF0dXJl")).status == 403
    # Signed with another account's token, or naming an account this gateway does not serve.
    wrong = TwilioCaller(gateway.url, account_sid=ACCOUNT, auth_token="globex-token")
    assert (await wrong.dial()).status == 403
    unknown = TwilioCaller(gateway.url, account_sid="AC" + "9" * 32, auth_token=TOKEN)
    assert (await unknown.dial()).status == 403
    assert gateway.sink.session_ids == set()
    assert await gateway.redis.keys("session:*") == []


async def test_a_retried_webhook_is_the_same_call(gateway: Gateway) -> None:
    caller = gateway.caller()
    first = await caller.dial()
    second = await caller.dial()
    assert first.status == second.status == 200
    assert len(gateway.sink.session_ids) == 1
    assert first.parameters["token"] != second.parameters["token"]


async def test_a_call_past_the_tenants_limit_hears_lines_busy(redis: Redis, redis_url: str) -> None:
    async for gw in _gateway(redis, redis_url, VOICEFLEET_MAX_SESSIONS_PER_TENANT="1"):
        assert (await gw.caller().dial()).stream_url is not None
        busy = await gw.caller().dial()
        assert busy.status == 200 and busy.stream_url is None
        assert busy.said == [BUSY_MESSAGE] and busy.hangs_up
        assert len(gw.sink.session_ids) == 1


async def test_a_call_the_broker_cannot_take_hears_lines_busy(redis: Redis, redis_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    async for gw in _gateway(redis, redis_url, K_SINK=closed):
        busy = await gw.caller().dial()
        assert busy.status == 200 and busy.said == [BUSY_MESSAGE] and busy.hangs_up
        assert await gw.redis.keys("session:*") == []  # no half-made session


async def test_a_call_while_redis_is_down_hears_lines_busy(redis: Redis, redis_url: str) -> None:
    down = f"redis://127.0.0.1:{free_port()}"
    async for gw in _gateway(redis, redis_url, REDIS_URL=down):
        busy = await gw.caller().dial()
        assert busy.status == 200 and busy.said == [BUSY_MESSAGE] and busy.hangs_up


async def test_the_stream_reaches_the_runners_side_and_back(gateway: Gateway) -> None:
    caller = gateway.caller()
    await caller.dial()
    session_id = await _session_of(gateway)
    await caller.connect()
    inbound = MediaStream(gateway.redis, Keys.media_in(session_id))
    outbound = MediaStream(gateway.redis, Keys.media_out(session_id))
    received: list[object] = []
    async with asyncio.timeout(5):
        while len(received) < 3:
            received += await inbound.receive(1.0)
    connected, start, media = (json.loads(str(m)) for m in received[:3])
    assert (connected["event"], start["event"], media["event"]) == ("connected", "start", "media")
    assert start["start"]["callSid"] == caller.call_sid
    assert start["start"]["customParameters"] == {}  # the spent token stops at the gateway
    # The bot's words reach the caller; its end closes the call.
    await outbound.send(json.dumps({"event": "clear", "streamSid": caller.stream_sid}))
    await caller.wait_for_clear(0.0, 5)
    await outbound.end("the bot ended the call")
    await asyncio.wait_for(caller.closed.wait(), 5)
    await caller.close()


async def test_hanging_up_tells_the_runner_why(gateway: Gateway) -> None:
    caller = gateway.caller()
    await caller.dial()
    session_id = await _session_of(gateway)
    await caller.connect()
    await caller.press("5")
    await caller.hang_up()
    inbound = MediaStream(gateway.redis, Keys.media_in(session_id))
    received: list[object] = []
    async with asyncio.timeout(5):
        while not any(isinstance(m, MediaEnd) for m in received):
            received += await inbound.receive(1.0)
    events = [json.loads(m)["event"] for m in received if isinstance(m, str)]
    assert events[:2] == ["connected", "start"] and events[-2:] == ["dtmf", "stop"]
    assert received[-1] == MediaEnd("caller hung up")


async def _talk(outbound: MediaStream, message: str) -> None:
    """The bot's side, sending without a pause."""
    while True:
        await outbound.send(message)
        await asyncio.sleep(0.001)


async def test_hanging_up_while_the_bot_talks_still_tells_the_runner(gateway: Gateway) -> None:
    """The line drops while the bot's audio streams to it and the caller's last messages are
    still unread: the gateway's send to the dead socket fails first, and the runner must still
    hear the hang-up (else its bot talks on to nobody and the session never ends)."""
    for _ in range(3):
        caller = gateway.caller()
        answer = await caller.dial()
        session_id = await gateway.redis.get(Keys.phone_call("twilio", caller.call_sid))
        assert answer.stream_url and session_id
        outbound = MediaStream(gateway.redis, Keys.media_out(session_id))
        media = json.dumps({"event": "media", "media": {"payload": LOUD_ULAW}})

        talking = asyncio.create_task(_talk(outbound, media))
        try:
            async with connect(answer.stream_url) as socket:
                await socket.send(json.dumps(caller.connected_message()))
                await socket.send(json.dumps(caller.start_message(answer.parameters)))
                await socket.recv()  # the bot is talking
                for _ in range(300):  # a burst the gateway has not read when the line drops
                    await socket.send(json.dumps(caller.media_message(bytes(160))))
                socket.transport.abort()
            inbound = MediaStream(gateway.redis, Keys.media_in(session_id))
            received: list[object] = []
            async with asyncio.timeout(10):
                while not any(isinstance(m, MediaEnd) for m in received):
                    received += await inbound.receive(1.0)
            assert received[-1] == MediaEnd("caller hung up")
        finally:
            talking.cancel()


async def _refused(url: str, start: dict[str, object]) -> int | None:
    async with connect(url) as socket:
        await socket.send(json.dumps({"event": "connected", "protocol": "Call"}))
        await socket.send(json.dumps(start))
        with pytest.raises(Exception):  # noqa: B017 - the socket is closed under the caller
            async with asyncio.timeout(5):
                while True:
                    await socket.recv()
        return socket.close_code


def _start(caller: TwilioCaller, token: str) -> dict[str, object]:
    return {
        "event": "start",
        "start": {"callSid": caller.call_sid, "streamSid": caller.stream_sid,
                  "customParameters": {"token": token}},
        "streamSid": caller.stream_sid,
    }  # fmt: skip


async def test_a_replayed_expired_or_foreign_token_is_refused(gateway: Gateway) -> None:
    caller = gateway.caller()
    answer = await caller.dial()
    token = answer.parameters["token"]
    assert answer.stream_url is not None
    await caller.connect()  # the call itself
    # The same token again (a replay), even for the same call: closed, nothing relayed.
    assert await _refused(answer.stream_url, _start(caller, token)) == 1008
    # A token for another call.
    other = gateway.caller()
    other_token = (await other.dial()).parameters["token"]
    assert await _refused(answer.stream_url, _start(caller, other_token)) == 1008
    # An expired one.
    late = gateway.caller()
    late_token = (await late.dial()).parameters["token"]
    key = Keys.stream_token(hashlib.sha256(late_token.encode()).hexdigest())
    await gateway.redis.pexpire(key, 1)
    await asyncio.sleep(0.05)
    assert await _refused(answer.stream_url, _start(late, late_token)) == 1008
    # And no token, or not a stream at all.
    assert await _refused(answer.stream_url, _start(late, "")) == 1008
    async with connect(answer.stream_url) as socket:
        await socket.send("hello")
        with pytest.raises(Exception):  # noqa: B017
            await asyncio.wait_for(socket.recv(), 5)
        assert socket.close_code == 1008
    for session_id in gateway.sink.session_ids - {await _first_session(gateway, caller)}:
        assert await gateway.redis.xlen(Keys.media_in(session_id)) == 0
    await caller.close()


async def _first_session(gw: Gateway, caller: TwilioCaller) -> str:
    record = await gw.redis.get(Keys.phone_call("twilio", caller.call_sid))
    return str(record)


async def test_after_the_stream_a_call_no_runner_took_hears_lines_busy(
    gateway: Gateway,
) -> None:
    caller = gateway.caller()
    await caller.dial()
    session_id = await _session_of(gateway)
    url = f"{gateway.url}/telephony/twilio/after-stream"
    params = caller.webhook_params()

    async def after() -> str:
        async with httpx.AsyncClient() as http:
            response = await http.post(
                url, data=params, headers={"X-Twilio-Signature": sign(url, params, TOKEN)}
            )
        assert response.status_code == 200
        return response.text

    assert parse_twiml(200, await after()).said == []  # still running: just hang up
    await gateway.redis.hset(  # type: ignore[misc]
        Keys.session(session_id),
        mapping={"status": "failed", "reason": "no capacity: no runner started it within 5s"},
    )
    busy = parse_twiml(200, await after())
    assert busy.said == [BUSY_MESSAGE] and busy.hangs_up
