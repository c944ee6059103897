"""Connects the pipeline to the bus: frames become events, handler actions become frames.

One processor, placed after STT and before the user context aggregator, so that what
handlers say goes through the same TTS and lands in the same context as the LLM's words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    InputDTMFFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMUpdateSettingsFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.settings import LLMSettings

from bot.eventbus.bus import EventBus
from bot.eventbus.events import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    Event,
    KeypadPressed,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)


class PipelineEvents(FrameProcessor):
    """Publishes speaking and transcript events; exposes `say`, `tell_llm` and `end`."""

    def __init__(
        self, bus: EventBus, *, on_end: Callable[[str, bool], Awaitable[None]] | None = None
    ) -> None:
        super().__init__()
        self._bus = bus
        self._on_end = on_end
        self.user_speaking = False
        self.bot_speaking = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        event = self._event_for(frame)
        if event is not None:
            await self._bus.publish(event)

    def _event_for(self, frame: Frame) -> Event | None:
        # Speaking frames travel both ways through the pipeline; publish state changes once.
        if isinstance(frame, UserStartedSpeakingFrame) and not self.user_speaking:
            self.user_speaking = True
            return UserStartedSpeaking()
        if isinstance(frame, UserStoppedSpeakingFrame) and self.user_speaking:
            self.user_speaking = False
            return UserStoppedSpeaking()
        if isinstance(frame, BotStartedSpeakingFrame) and not self.bot_speaking:
            self.bot_speaking = True
            return BotStartedSpeaking()
        if isinstance(frame, BotStoppedSpeakingFrame) and self.bot_speaking:
            self.bot_speaking = False
            return BotStoppedSpeaking()
        if isinstance(frame, InputDTMFFrame):
            return KeypadPressed(digit=str(frame.button.value))
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            return Transcript(text=frame.text.strip(), participant_id=frame.user_id or None)
        return None

    # Actions handlers take --------------------------------------------------------------

    async def say(self, text: str) -> None:
        """Speak exactly this text (it is added to the conversation as the bot's words)."""
        await self.push_frame(TTSSpeakFrame(text))

    async def push(self, frames: list[Frame]) -> None:
        for frame in frames:
            await self.push_frame(frame)

    async def tell_llm(self, content: str, *, role: str = "system", respond: bool = True) -> None:
        """Add a message to the context and (by default) let the LLM answer it."""
        await self.push_frame(
            LLMMessagesAppendFrame(messages=[{"role": role, "content": content}], run_llm=respond)  # type: ignore[list-item]
        )

    async def set_instructions(self, instructions: str) -> None:
        """Replace the LLM's system instruction; the conversation so far is kept."""
        await self.push_frame(
            LLMUpdateSettingsFrame(delta=LLMSettings(system_instruction=instructions))
        )

    async def reset_context(self) -> None:
        """Forget the conversation so far (the system instruction stays)."""
        await self.push_frame(LLMMessagesUpdateFrame(messages=[], run_llm=False))

    async def end(self, reason: str, *, now: bool = False) -> None:
        """End after what is queued has been said (a goodbye is not cut off), or `now`."""
        if self._on_end is not None:
            await self._on_end(reason, now)
        if not now:
            await self.push_frame(EndWorkerFrame(reason=reason), FrameDirection.UPSTREAM)
