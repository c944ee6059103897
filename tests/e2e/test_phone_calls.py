"""Phone calls through the whole dev stack, placed by a scripted caller that speaks Twilio's
Media Streams protocol (harness/twilio_caller.py): the signed webhook, the TwiML answer, the
stream relayed by the gateway to the runner that holds the call, and the bot on 8 kHz μ-law.
A call the fleet places through Telnyx dials a stand-in of Telnyx's REST API
(tests/support/telnyx_api.py), and the Telnyx caller answers it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from redis.asyncio import Redis

from bot.handlers.keypad import keypad_text
from bot.tts.piper import load_voice
from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import spoken, words
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.telnyx_caller import TelnyxCaller
from harness.twilio_caller import TwilioCaller
from tests.e2e.test_launch_path import wait_status
from tests.support.telnyx_api import TelnyxApi
from tests.support.threaded import serving_in_thread
from voicefleet.contracts import Keys
from voicefleet.redis_conn import connect

pytestmark = pytest.mark.e2e

ACCOUNT = "AC" + "e2e0" * 8
AUTH_TOKEN = "e2e-twilio-auth-token"
ACCOUNTS = json.dumps(
    {ACCOUNT: {"tenant": "default", "auth_token": AUTH_TOKEN, "caller_number": "e164"}}
)
TELNYX_ACCOUNT = "e2e-telnyx"
TELNYX_KEY = Ed25519PrivateKey.generate()
TELNYX_ACCOUNTS = json.dumps(
    {
        TELNYX_ACCOUNT: {
            "tenant": "default",
            "public_key": base64.b64encode(
                TELNYX_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            ).decode(),
            "api_key": "e2e-telnyx-api-key",
            "connection_id": "e2e-call-control",
        }
    }
)
# Telnyx's REST API, which signs its webhooks with the same key as the TeXML ones.
TELNYX_API = TelnyxApi("e2e-telnyx-api-key", "e2e-call-control", signing_key=TELNYX_KEY)
LONG_ANSWER = (
    "Here is a long answer about budgets. A budget is a plan for your money, month by month, "
    "and it helps you see where every dollar goes, what you can save, and what you can spend "
    "on the things that matter most to you and your family over the coming year."
)


def _phone_stack(redis_url: str, *args: str, **env: str) -> RunningStack:
    return start_stack(
        *args,
        env={
            **env,
            "REDIS_URL": redis_url,
            "VOICEFLEET_TWILIO_ACCOUNTS": ACCOUNTS,
            "VOICEFLEET_TELNYX_ACCOUNTS": TELNYX_ACCOUNTS,
            "VOICEFLEET_MAX_SESSIONS_PER_TENANT": "0",
            "VOICEFLEET_LAUNCHES_PER_MINUTE_PER_TENANT": "0",
        },
    )


@pytest.fixture(scope="module")
def telnyx_api_url() -> Iterator[str]:
    with serving_in_thread(TELNYX_API.app) as url:
        yield url


@pytest.fixture(scope="module")
def phone_stack(redis_url: str, telnyx_api_url: str) -> Iterator[RunningStack]:
    running = _phone_stack(redis_url, "--warm", "1", "--max", "2", TELNYX_API_URL=telnyx_api_url)
    yield running
    stop_stack_cleanly(running)


def _caller(stack: RunningStack, number: str = "+14155550100") -> TwilioCaller:
    return TwilioCaller(stack.url, account_sid=ACCOUNT, auth_token=AUTH_TOKEN, caller=number)


async def _session_id(redis_url: str, caller: TwilioCaller, provider: str = "twilio") -> str:
    redis: Redis = connect(redis_url)
    try:
        key = Keys.phone_call(provider, caller.call_sid)
        session_id = await redis.get(key)
    finally:
        await redis.aclose()
    assert session_id, "the webhook made no session"
    return str(session_id)


def _speech(text: str) -> tuple[bytes, int]:
    return spoken(text), load_voice("en_US-joe-medium").config.sample_rate


def _notes(database_url: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT title, tenant FROM mesh_notes").fetchall()


async def _until(check: Any, timeout_s: float) -> None:
    """Mesh's database and the fake LLM's log are outside this process: ask until it holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the condition did not hold in time")


async def test_a_phone_call_greets_acts_is_interrupted_and_hangs_up(
    phone_stack: RunningStack, fake_llm: FakeOpenAI, redis_url: str
) -> None:
    stack = phone_stack
    fake_llm.script += [
        Reply(tool_calls=[("bot_create_note", {"title": "budget"})]),
        Reply(text="I've created your budget note."),
        Reply(text=LONG_ANSWER),
    ]
    caller = _caller(stack)
    answer = await caller.dial()
    assert answer.stream_url, answer.twiml
    session_id = await _session_id(redis_url, caller)
    await caller.connect()
    try:
        # The greeting, over the phone line.
        await caller.wait_for_audio(20)
        await caller.wait_for_silence(0.8, 30)

        # A spoken request becomes a note in Mesh, and the bot says so.
        said_at = await caller.say(*_speech("Create a note called budget."))
        await _until(lambda: ("budget", "default") in _notes(stack.mesh_database), 60)
        await caller.wait_for_audio(30, since=said_at)
        await caller.wait_for_silence(0.8, 30)
        # What the bot heard of the phone line (8 kHz μ-law into Whisper tiny) reached the
        # LLM as the caller's turn, from its first words: relayed audio comes in bursts, and
        # the STT cuts its segments where the VAD heard the speech (bot/stt/preroll.py).
        heard = [words(t) for t in fake_llm.user_texts()]
        assert any(t.startswith("create a note") and "budget" in t for t in heard), heard

        # A key press reaches the conversation.
        await caller.press("5")
        await _until(lambda: keypad_text("5") in fake_llm.user_texts(), 30)
        await caller.wait_for_audio(30, since=time.monotonic() - 0.1)  # the long answer starts
        await asyncio.sleep(1.0)
        # Talking over the answer clears what Twilio still had to play.
        talking = time.monotonic()
        await caller.say(*_speech("Wait, stop, that is enough for now."))
        cleared = await caller.wait_for_clear(talking, 30)
        assert any(cleared - 1.0 < t < cleared for t in caller.loud_after(talking - 1.0))
        assert caller.stream_sids == {caller.stream_sid}
    finally:
        await caller.hang_up()

    ended = await wait_status(stack, session_id, "ended", "failed", timeout_s=30)
    assert (ended["status"], ended["reason"]) == ("ended", "caller hung up"), ended
    assert ended["transport"] == "twilio" and ended["caller"] == "+14155550100"
    assert ended["ready_to_first_audio_ms"] is not None


async def test_a_telnyx_call_greets_hears_a_key_and_hangs_up(
    phone_stack: RunningStack, fake_llm: FakeOpenAI, redis_url: str
) -> None:
    caller = TelnyxCaller(phone_stack.url, account_sid=TELNYX_ACCOUNT, signing_key=TELNYX_KEY)
    answer = await caller.dial()
    assert answer.stream_url, answer.twiml
    session_id = await _session_id(redis_url, caller, "telnyx")
    await caller.connect()
    try:
        await caller.wait_for_audio(20)
        await caller.press("7")
        await _until(lambda: keypad_text("7") in fake_llm.user_texts(), 30)
    finally:
        await caller.hang_up()
    ended = await wait_status(phone_stack, session_id, "ended", "failed", timeout_s=30)
    assert (ended["status"], ended["reason"], ended["transport"]) == (
        "ended",
        "caller hung up",
        "telnyx",
    ), ended


async def test_a_call_placed_through_telnyx_is_answered_and_greeted(
    phone_stack: RunningStack,
) -> None:
    stack = phone_stack
    call = {"to": "+14155550123", "from": "+14155550199", "provider": "telnyx"}
    async with httpx.AsyncClient(base_url=stack.url, headers=stack.headers, timeout=30) as http:
        placed = await http.post("/calls", json=call)
    assert placed.status_code == 201, placed.text
    session_id = placed.json()["session_id"]
    dialled = TELNYX_API.calls[-1]
    assert await TELNYX_API.send_event(dialled, "call.answered") == 200
    callee = TelnyxCaller(stack.url, account_sid=TELNYX_ACCOUNT, signing_key=TELNYX_KEY)
    callee.answer_placed(dialled.call_control_id, dialled.body)
    await callee.connect()
    try:
        await callee.wait_for_audio(20)  # the greeting
    finally:
        await callee.hang_up()
    ended = await wait_status(stack, session_id, "ended", "failed", timeout_s=30)
    assert (ended["status"], ended["reason"], ended["transport"], ended["call_status"]) == (
        "ended",
        "caller hung up",
        "telnyx",
        "in-progress",
    ), ended
    # Telnyx says the stream stopped: the gateway hangs the call up.
    assert await TELNYX_API.send_event(dialled, "streaming.stopped") == 200
    assert TELNYX_API.commands[-1][:2] == (dialled.call_control_id, "hangup")


async def test_twenty_calls_at_once_are_all_greeted_and_never_crossed(
    fake_llm: FakeOpenAI, redis_url: str
) -> None:
    calls, slots = 20, 4
    # Pods shaped as production's (4 calls each, forked from one preloaded parent). A caller
    # greeted first waits, silent, for the last of twenty to be greeted: on a slow machine that
    # outlasts the bot's idle goodbye, which would end its call before hang-up.
    stack = _phone_stack(
        redis_url,
        "--warm",
        str(calls // slots),
        "--max",
        str(calls // slots),
        "--slots",
        str(slots),
        BOT_IDLE_PROMPT_S="600",
        BOT_IDLE_END_S="1200",
    )
    try:
        callers = [_caller(stack, f"+1415555{i:04d}") for i in range(calls)]
        answers = await asyncio.gather(*(c.dial() for c in callers))
        assert all(a.stream_url for a in answers), [a.twiml for a in answers if not a.stream_url]
        await asyncio.gather(*(c.connect() for c in callers))
        try:
            await asyncio.gather(*(c.wait_for_audio(90) for c in callers))
        finally:
            await asyncio.gather(*(c.hang_up() for c in callers))
        for caller in callers:
            # Every message a caller got was for its own stream.
            assert caller.stream_sids == {caller.stream_sid}
        sessions = [await _session_id(redis_url, c) for c in callers]
        records = await asyncio.gather(
            *(wait_status(stack, s, "ended", "failed", timeout_s=60) for s in sessions)
        )
        not_hung_up = [
            (r["session_id"], r["status"], r["reason"])
            for r in records
            if (r["status"], r["reason"]) != ("ended", "caller hung up")
        ]
        assert not not_hung_up, (not_hung_up, "".join(stack.output[-80:]))
        assert [r["caller"] for r in records] == [c.caller for c in callers]
        assert len({r["runner"] for r in records}) == calls  # one slot per call
    finally:
        stop_stack_cleanly(stack)
