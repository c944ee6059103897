"""The bot's side of a phone call: key presses become events and reach the conversation,
interface events go nowhere, and the Twilio serializer is built from the stream's `start`."""

from __future__ import annotations

import json

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    InputDTMFFrame,
    InterruptionFrame,
    LLMMessagesAppendFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.processors.frameworks.rtvi import RTVIServerMessageFrame
from pipecat.tests.utils import run_test

from bot.daily_phone import dialin_settings, dialout_settings
from bot.eventbus import EventBus, KeypadPressed
from bot.eventbus.bridge import PipelineEvents
from bot.forwarder import EventForwarder
from bot.handlers.keypad import KeypadHandler, keypad_text
from bot.phone import serializer_for
from voicefleet.contracts import DailyDialIn, DailyDialOut, TransportKind


async def test_a_key_press_is_an_event_and_the_llm_hears_it() -> None:
    bus = EventBus()
    seen: list[KeypadPressed] = []

    async def record(event: KeypadPressed) -> None:
        seen.append(event)

    bus.subscribe(KeypadPressed, record)
    events = PipelineEvents(bus)
    KeypadHandler(events).attach(bus)
    down, _ = await run_test(
        events,
        frames_to_send=[InputDTMFFrame(KeypadEntry.FIVE), InputDTMFFrame(KeypadEntry.POUND)],
    )
    assert [e.digit for e in seen] == ["5", "#"]
    told = [f for f in down if isinstance(f, LLMMessagesAppendFrame)]
    assert [f.messages for f in told] == [
        [{"role": "user", "content": keypad_text("5")}],
        [{"role": "user", "content": keypad_text("#")}],
    ]
    assert all(f.run_llm for f in told)


async def test_interface_events_go_nowhere_on_a_phone() -> None:
    pushed: list[object] = []

    async def push(frames: list[object]) -> None:
        pushed.extend(frames)

    for kind in (TransportKind.TWILIO, TransportKind.TELNYX):
        forwarder = EventForwarder(kind, push)  # type: ignore[arg-type]
        await forwarder.emit_tool_event("note.created", {"id": "n1"})
        assert forwarder.sent == [{"type": "note.created", "data": {"id": "n1"}}]
    assert pushed == []
    # Elsewhere they still travel.
    await EventForwarder(TransportKind.WEBRTC, push).emit_tool_event("x", {})  # type: ignore[arg-type]
    await EventForwarder(TransportKind.DAILY, push).emit_tool_event("x", {})  # type: ignore[arg-type]
    assert [type(f) for f in pushed] == [RTVIServerMessageFrame, OutputTransportMessageUrgentFrame]


async def test_the_twilio_serializer_clears_its_own_stream_and_never_calls_rest() -> None:
    start = {
        "event": "start",
        "start": {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {}},
        "streamSid": "MZ1",
    }
    serializer = serializer_for(TransportKind.TWILIO, start)
    assert json.loads(str(await serializer.serialize(InterruptionFrame()))) == {
        "event": "clear",
        "streamSid": "MZ1",
    }
    # No account SID or auth token was given: a hang-up REST call would have been refused.
    from pipecat.frames.frames import EndFrame

    assert await serializer.serialize(EndFrame()) is None


DIALIN = {"call_id": "6a9f3f4e-0b1c-4b3e-9a55-1f2e3d4c5b6a", "call_domain": "0d5a-4c7b"}


def test_a_daily_room_call_becomes_pipecats_dial_in_and_dial_out_settings() -> None:
    settings = dialin_settings(DailyDialIn.model_validate(DIALIN))
    assert settings is not None
    assert (settings.call_id, settings.call_domain) == (DIALIN["call_id"], DIALIN["call_domain"])
    assert dialin_settings(None) is None
    assert dialout_settings(DailyDialOut(phone_number="+14155550123")) == {
        "phoneNumber": "+14155550123"
    }
    assert dialout_settings(DailyDialOut(sip_uri="sip:desk@example.com")) == {
        "sipUri": "sip:desk@example.com"
    }
