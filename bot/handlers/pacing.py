"""Keeps a quiet call moving: a gentle prompt after some silence, goodbye after more.

Silence is measured from the last time anyone spoke; the timer never fires while the user
(or the bot) is speaking, so the bot does not talk over anyone.
"""

from __future__ import annotations

import asyncio

from bot.eventbus import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    EventBus,
    SessionEnding,
    Transcript,
    UserStartedSpeaking,
    UserStoppedSpeaking,
)
from bot.eventbus.events import Event
from bot.handlers.controls import BotControls


class PacingHandler:
    def __init__(
        self,
        controls: BotControls,
        *,
        prompt_after_s: float,
        end_after_s: float,
        prompt: str,
        goodbye: str,
    ) -> None:
        self._controls = controls
        self._prompt_after = prompt_after_s
        self._end_after = end_after_s
        self._prompt = prompt
        self._goodbye = goodbye
        self._user_speaking = False
        self._bot_speaking = False
        self._timer: asyncio.Task[None] | None = None
        self.prompted = False

    def attach(self, bus: EventBus) -> None:
        for event_type in (UserStartedSpeaking, UserStoppedSpeaking, Transcript):
            bus.subscribe(event_type, self.on_user)
        bus.subscribe(BotStartedSpeaking, self.on_bot)
        bus.subscribe(BotStoppedSpeaking, self.on_bot)
        bus.subscribe(SessionEnding, self.on_ending)

    async def on_user(self, event: Event) -> None:
        if isinstance(event, UserStartedSpeaking):
            self._user_speaking = True
        elif isinstance(event, UserStoppedSpeaking):
            self._user_speaking = False
        self.prompted = False
        self._restart()

    async def on_bot(self, event: Event) -> None:
        self._bot_speaking = isinstance(event, BotStartedSpeaking)
        self._restart()

    async def on_ending(self, _: SessionEnding) -> None:
        self.stop()

    def start(self) -> None:
        self._restart()

    def stop(self) -> None:
        # The timer itself may cause a restart (its words start the bot speaking): it is not
        # cancelled from within, so a goodbye always reaches `end`.
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None

    def _restart(self) -> None:
        self.stop()
        if not self._user_speaking and not self._bot_speaking:
            self._timer = asyncio.create_task(self._wait_in_silence())

    async def _wait_in_silence(self) -> None:
        if not self.prompted:
            await asyncio.sleep(self._prompt_after)
            self.prompted = True
            await self._controls.say(self._prompt)
        # Speaking the prompt restarts this clock (from its end); if nothing is heard at all,
        # the goodbye still comes.
        await asyncio.sleep(max(self._end_after - self._prompt_after, 0))
        await self._controls.say(self._goodbye)
        await self._controls.end("idle: nobody spoke")
