"""Carries out operators' admin messages in the running conversation.

Each message type maps to one action on the conversation; a message the bot cannot carry out
(an unknown type, a bad field, no Mesh to reload from) is refused with a reason, which the
admin channel records on the message, and the call goes on. Fields are checked by the same
models the admin function checks them with (`voicefleet/admin_messages.py`), so a message it
accepted is one the bot can carry out, and a refusal reads the same in both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.eventbus import EventBus
from bot.eventbus.events import AdminMessageHandled, AdminMessageReceived
from bot.handlers.controls import BotControls
from voicefleet.admin_messages import (
    AppendContext,
    EndSession,
    InvalidMessage,
    KnownMessage,
    ReloadContext,
    Say,
    UpdatePrompts,
    known_message,
)
from voicefleet.admin_queue import AdminMessage


class Refused(Exception):
    pass


class AdminHandler:
    def __init__(
        self,
        controls: BotControls,
        bus: EventBus,
        *,
        load_instructions: Callable[[], Awaitable[str]],
        goodbye: str,
    ) -> None:
        self._controls = controls
        self._bus = bus
        self._load_instructions = load_instructions
        self._goodbye = goodbye
        self._ending = False

    async def handle(self, message: AdminMessage) -> str | None:
        """None when carried out, else the reason it was not."""
        await self._bus.publish(
            AdminMessageReceived(message_id=message.id, type=message.type, payload=message.message)
        )
        refused = await self._refusal(message)
        await self._bus.publish(
            AdminMessageHandled(message_id=message.id, type=message.type, refused=refused)
        )
        return refused

    async def _refusal(self, message: AdminMessage) -> str | None:
        """Carry it out; None when done, else why not."""
        try:
            checked = known_message(message.message)
        except InvalidMessage as exc:
            return str(exc)  # the admin function's 422 says the same
        if checked is None:
            return f"unknown message type {message.type!r}"
        if self._ending:
            return "the session is ending"
        try:
            await self._carry_out(checked)
        except Refused as exc:
            return str(exc)
        return None

    async def _carry_out(self, message: KnownMessage) -> None:
        match message:
            case Say():
                await self._controls.say(message.text)
            case AppendContext():
                respond = message.role == "user" if message.respond is None else message.respond
                await self._controls.tell_llm(message.content, role=message.role, respond=respond)
            case UpdatePrompts():
                await self._controls.set_instructions(await self._load_instructions())
            case ReloadContext():
                await self._controls.set_instructions(await self._load_instructions())
                await self._controls.reset_context()
            case EndSession():
                self._ending = True
                await self._controls.say(message.text or self._goodbye)
                await self._controls.end("ended by an admin message")
