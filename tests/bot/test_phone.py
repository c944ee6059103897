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

from bot.eventbus import EventBus, KeypadPressed
from bot.eventbus.bridge import PipelineEvents
from bot.forwarder import EventForwarder
from bot.handlers.keypad import KeypadHandler, keypad_text
from bot.phone import serializer_for
from voicefleet.contracts import TransportKind


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
