"""Tracks who is in the room and ends the session when the last human leaves."""

from __future__ import annotations

from bot.eventbus import EventBus, ParticipantJoined, ParticipantLeft
from bot.handlers.controls import BotControls


class RosterHandler:
    def __init__(self, controls: BotControls) -> None:
        self._controls = controls
        self.humans: dict[str, str | None] = {}
        self._ending = False

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(ParticipantJoined, self.on_joined)
        bus.subscribe(ParticipantLeft, self.on_left)

    async def on_joined(self, event: ParticipantJoined) -> None:
        if event.is_human:
            self.humans[event.participant_id] = event.name

    async def on_left(self, event: ParticipantLeft) -> None:
        if self.humans.pop(event.participant_id, ...) is ... or self.humans or self._ending:
            return
        self._ending = True
        await self._controls.end("client left", now=True)  # nobody is left to hear a goodbye
