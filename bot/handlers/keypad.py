"""Keys a caller presses on a phone call reach the conversation: the LLM hears each one as
the caller's turn (a menu choice, a digit of a number) and answers it, as it would speech.

Other handlers and tools see the same `KeypadPressed` events on the bus.
"""

from __future__ import annotations

from bot.eventbus import EventBus, KeypadPressed
from bot.handlers.controls import BotControls


def keypad_text(digit: str) -> str:
    return f"(the caller pressed {digit} on the phone keypad)"


class KeypadHandler:
    def __init__(self, controls: BotControls) -> None:
        self._controls = controls

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(KeypadPressed, self.on_pressed)

    async def on_pressed(self, event: KeypadPressed) -> None:
        await self._controls.tell_llm(keypad_text(event.digit), role="user")
