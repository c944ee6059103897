"""Carries out operators' admin messages in the running conversation.

Each message type maps to one action on the conversation; a message the bot cannot carry out
(an unknown type, a missing field, no Mesh to reload from) is refused with a reason, which
the admin channel records on the message, and the call goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.eventbus import EventBus
from bot.eventbus.events import AdminMessageHandled, AdminMessageReceived
from bot.handlers.controls import BotControls
from voicefleet.admin_queue import AdminMessage
from voicefleet.contracts import ADMIN_TEXT_MAX as TEXT_MAX


class Refused(Exception):
    pass


def _text(message: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = message.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{name} must be a non-empty string")
    if len(value) > TEXT_MAX:
        raise Refused(f"{name} is longer than {TEXT_MAX} characters")
    return value.strip()


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
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "say": self._say,
            "append_context": self._append_context,
            "update_prompts": self._update_prompts,
            "reload_context": self._reload_context,
            "end_session": self._end_session,
        }

    async def handle(self, message: AdminMessage) -> str | None:
        """None when carried out, else the reason it was not."""
        await self._bus.publish(
            AdminMessageReceived(message_id=message.id, type=message.type, payload=message.message)
        )
        refused = await self._carry_out(message)
        await self._bus.publish(
            AdminMessageHandled(message_id=message.id, type=message.type, refused=refused)
        )
        return refused

    async def _carry_out(self, message: AdminMessage) -> str | None:
        handler = self._handlers.get(message.type)
        if handler is None:
            return f"unknown message type {message.type!r}"
        if self._ending:
            return "the session is ending"
        try:
            await handler(message.message)
        except Refused as exc:
            return str(exc)
        return None

    async def _say(self, message: dict[str, Any]) -> None:
        await self._controls.say(_text(message, "text"))

    async def _append_context(self, message: dict[str, Any]) -> None:
        role = message.get("role", "system")
        if role not in ("system", "user"):
            raise Refused("role must be 'system' or 'user'")
        respond = message.get("respond", role == "user")
        if not isinstance(respond, bool):
            raise Refused("respond must be true or false")
        await self._controls.tell_llm(_text(message, "content"), role=role, respond=respond)

    async def _update_prompts(self, _: dict[str, Any]) -> None:
        await self._controls.set_instructions(await self._load_instructions())

    async def _reload_context(self, message: dict[str, Any]) -> None:
        await self._update_prompts(message)
        await self._controls.reset_context()

    async def _end_session(self, message: dict[str, Any]) -> None:
        goodbye = _text(message, "text", required=False) or self._goodbye
        self._ending = True
        await self._controls.say(goodbye)
        await self._controls.end("ended by an admin message")
