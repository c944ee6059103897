"""Greets each human who joins: by name when the transport knows it.

The first nameless greeting is the one pre-rendered in standby (audio frames, no TTS on the
call's critical path); it is written into the context so the LLM knows it was said.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, LLMMessagesAppendFrame

from bot.eventbus import EventBus, ParticipantJoined
from bot.handlers.controls import BotControls


class GreetingHandler:
    def __init__(
        self,
        controls: BotControls,
        *,
        greeting: str,
        prerendered: list[Frame] | None = None,
        user_name: str | None = None,
    ) -> None:
        self._controls = controls
        self._greeting = greeting
        self._prerendered = prerendered
        self._user_name = user_name
        self._greeted: set[str] = set()

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(ParticipantJoined, self.on_joined)

    async def on_joined(self, event: ParticipantJoined) -> None:
        if not event.is_human or event.participant_id in self._greeted:
            return
        self._greeted.add(event.participant_id)
        name = event.name or self._user_name
        if name:
            await self._controls.say(f"Hello {name}! {self._greeting}")
        elif self._prerendered and len(self._greeted) == 1:
            context = [{"role": "assistant", "content": self._greeting}]
            await self._controls.push(
                [*self._prerendered, LLMMessagesAppendFrame(messages=context, run_llm=False)]  # type: ignore[arg-type]
            )
        else:
            await self._controls.say(self._greeting)
