"""Handlers and the event bridge, driven with Pipecat's test utilities: frames in, frames out."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    LLMMessagesAppendFrame,
    OutputAudioRawFrame,
    SystemFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from bot.eventbus import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Event,
    EventBus,
    ParticipantJoined,
    ParticipantLeft,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from bot.eventbus.bridge import PipelineEvents
from bot.handlers import GreetingHandler, PacingHandler, RosterHandler


@dataclass
class Publish(SystemFrame):
    """Test-only: makes `Trigger` publish an event, as a transport's event handler would."""

    event: Event | None = None


class Trigger(FrameProcessor):
    def __init__(self, bus: EventBus) -> None:
        super().__init__()
        self._bus = bus

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, Publish) and frame.event is not None:
            await self._bus.publish(frame.event)
        else:
            await self.push_frame(frame, direction)


def recorder(bus: EventBus) -> list[Event]:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    bus.subscribe(Event, record)
    return seen


def spoken(frames: list[Frame]) -> list[str]:
    return [f.text for f in frames if isinstance(f, TTSSpeakFrame)]


async def test_bridge_publishes_each_state_change_once_and_passes_frames_on() -> None:
    bus = EventBus()
    seen = recorder(bus)
    frames = [
        UserStartedSpeakingFrame(),
        UserStartedSpeakingFrame(),  # a second copy (frames travel both ways): no new event
        TranscriptionFrame("what can you do", "user-1", "2026-01-01T00:00:00"),
        UserStoppedSpeakingFrame(),
        BotStartedSpeakingFrame(),
        BotStoppedSpeakingFrame(),
    ]
    down, _ = await run_test(PipelineEvents(bus), frames_to_send=frames)
    # System frames (speaking) overtake data frames (the transcript) in Pipecat's queues.
    assert sorted(type(f).__name__ for f in down) == sorted(type(f).__name__ for f in frames)
    assert [type(e) for e in seen if not isinstance(e, Transcript)] == [
        UserStartedSpeaking,
        UserStoppedSpeaking,
        BotStartedSpeaking,
        BotStoppedSpeaking,
    ]
    transcript = next(e for e in seen if isinstance(e, Transcript))
    assert (transcript.text, transcript.participant_id) == ("what can you do", "user-1")


async def test_greets_a_named_participant_through_tts() -> None:
    bus = EventBus()
    events = PipelineEvents(bus)
    GreetingHandler(events, greeting="How can I help?").attach(bus)
    down, _ = await run_test(
        Pipeline([Trigger(bus), events]),
        frames_to_send=[Publish(event=ParticipantJoined(participant_id="p1", name="Ada"))],
    )
    assert spoken(list(down)) == ["Hello Ada! How can I help?"]


async def test_first_nameless_greeting_is_the_prerendered_audio_and_enters_the_context() -> None:
    bus = EventBus()
    events = PipelineEvents(bus)
    audio = OutputAudioRawFrame(audio=b"\x01\x00" * 480, sample_rate=24000, num_channels=1)
    GreetingHandler(events, greeting="Hello!", prerendered=[audio]).attach(bus)
    down, _ = await run_test(
        Pipeline([Trigger(bus), events]),
        frames_to_send=[
            Publish(event=ParticipantJoined(participant_id="p1")),
            Publish(event=ParticipantJoined(participant_id="p1")),  # the same person: once
            Publish(event=ParticipantJoined(participant_id="bot", is_human=False)),
        ],
        expected_down_frames=[OutputAudioRawFrame, LLMMessagesAppendFrame],
    )
    context = down[-1]
    assert isinstance(context, LLMMessagesAppendFrame)
    assert context.messages == [{"role": "assistant", "content": "Hello!"}]
    assert context.run_llm is False


def pacing(bus: EventBus, events: PipelineEvents) -> PacingHandler:
    handler = PacingHandler(
        events, prompt_after_s=0.2, end_after_s=0.5, prompt="Still there?", goodbye="Bye!"
    )
    handler.attach(bus)
    return handler


async def test_pacing_prompts_after_silence_then_says_goodbye_and_ends() -> None:
    bus = EventBus()
    ended: list[str] = []

    async def on_end(reason: str, now: bool) -> None:
        ended.append(reason)

    events = PipelineEvents(bus, on_end=on_end)
    pacing(bus, events)
    down, up = await run_test(
        events,
        frames_to_send=[UserStartedSpeakingFrame(), UserStoppedSpeakingFrame(), SleepFrame(0.8)],
    )
    assert spoken(list(down)) == ["Still there?", "Bye!"]
    assert any(isinstance(f, EndWorkerFrame) for f in up)
    assert ended == ["idle: nobody spoke"]


async def test_pacing_never_talks_over_the_user() -> None:
    bus = EventBus()
    events = PipelineEvents(bus)
    pacing(bus, events)
    down, _ = await run_test(events, frames_to_send=[UserStartedSpeakingFrame(), SleepFrame(0.6)])
    assert spoken(list(down)) == []


async def test_speech_resets_the_silence_clock() -> None:
    bus = EventBus()
    events = PipelineEvents(bus)
    pacing(bus, events)
    talk = [UserStartedSpeakingFrame(), UserStoppedSpeakingFrame(), SleepFrame(0.12)]
    down, _ = await run_test(events, frames_to_send=talk * 3)
    assert spoken(list(down)) == []


async def test_roster_ends_the_session_when_the_last_human_leaves() -> None:
    bus = EventBus()
    ended: list[tuple[str, bool]] = []

    async def on_end(reason: str, now: bool) -> None:
        ended.append((reason, now))

    events = PipelineEvents(bus, on_end=on_end)
    roster = RosterHandler(events)
    roster.attach(bus)
    joined = [Publish(event=ParticipantJoined(participant_id=p, name=p)) for p in ("a", "b")]
    await run_test(
        Pipeline([Trigger(bus), events]),
        frames_to_send=[
            *joined,
            Publish(event=ParticipantJoined(participant_id="bot", is_human=False)),
            Publish(event=ParticipantLeft(participant_id="a")),
        ],
    )
    assert ended == [] and set(roster.humans) == {"b"}
    await run_test(
        Pipeline([Trigger(bus), events]),
        frames_to_send=[Publish(event=ParticipantLeft(participant_id="b"))],
    )
    assert ended == [("client left", True)]
