"""The bot's admin handler in a Pipecat pipeline: admin messages in, frames out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMUpdateSettingsFrame,
    SystemFrame,
    TTSSpeakFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test

from bot.eventbus import EventBus
from bot.eventbus.bridge import PipelineEvents
from bot.eventbus.events import AdminMessageReceived, Event
from bot.handlers.admin import AdminHandler, Refused
from voicefleet.admin_queue import AdminMessage, AdminStatus


def admin_message(**message: Any) -> AdminMessage:
    now = time.time()
    return AdminMessage(
        id="m1",
        tenant="acme",
        address="s1",
        type=str(message.get("type", "")),
        message=message,
        status=AdminStatus.PROCESSING,
        created_at=now,
        expires_at=now + 60,
    )


@dataclass
class Deliver(SystemFrame):
    """Test-only: hands an admin message to the handler, as the admin channel does."""

    message: AdminMessage | None = None
    outcomes: list[str | None] = field(default_factory=list)


class Channel(FrameProcessor):
    def __init__(self, handler: AdminHandler) -> None:
        super().__init__()
        self._handler = handler

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, Deliver) and frame.message is not None:
            frame.outcomes.append(await self._handler.handle(frame.message))
        else:
            await self.push_frame(frame, direction)


class Setup:
    def __init__(self, instructions: str | Exception = "You are Ada's assistant.") -> None:
        self.bus = EventBus()
        self.ended: list[str] = []
        self.seen: list[Event] = []
        self.events = PipelineEvents(self.bus, on_end=self._on_end)

        async def load() -> str:
            if isinstance(instructions, Exception):
                raise instructions
            return instructions

        async def record(event: Event) -> None:
            self.seen.append(event)

        self.bus.subscribe(AdminMessageReceived, record)
        self.handler = AdminHandler(
            self.events, self.bus, load_instructions=load, goodbye="Goodbye from admin."
        )

    async def _on_end(self, reason: str, now: bool) -> None:
        self.ended.append(reason)

    async def deliver(
        self, *messages: AdminMessage
    ) -> tuple[list[Frame], list[Frame], list[str | None]]:
        outcomes: list[str | None] = []
        down, up = await run_test(
            Pipeline([Channel(self.handler), self.events]),
            frames_to_send=[Deliver(message=m, outcomes=outcomes) for m in messages],
        )
        return list(down), list(up), outcomes


async def test_say_speaks_the_text_now() -> None:
    setup = Setup()
    down, _, outcomes = await setup.deliver(admin_message(type="say", text="The build is green."))
    assert outcomes == [None]
    assert [f.text for f in down if isinstance(f, TTSSpeakFrame)] == ["The build is green."]
    assert [e.type for e in setup.seen if isinstance(e, AdminMessageReceived)] == ["say"]


async def test_append_context_adds_a_message_and_a_user_message_is_answered() -> None:
    setup = Setup()
    down, _, outcomes = await setup.deliver(
        admin_message(type="append_context", content="The user is on a train."),
        admin_message(type="append_context", role="user", content="Summarise my notes."),
    )
    assert outcomes == [None, None]
    appended = [f for f in down if isinstance(f, LLMMessagesAppendFrame)]
    assert [(f.messages, f.run_llm) for f in appended] == [
        ([{"role": "system", "content": "The user is on a train."}], False),
        ([{"role": "user", "content": "Summarise my notes."}], True),
    ]


async def test_update_prompts_replaces_the_system_instruction_and_keeps_the_history() -> None:
    setup = Setup("Be brief. Personality: cheerful.")
    down, _, outcomes = await setup.deliver(admin_message(type="update_prompts"))
    assert outcomes == [None]
    updates = [f for f in down if isinstance(f, LLMUpdateSettingsFrame)]
    assert len(updates) == 1 and updates[0].delta is not None
    assert updates[0].delta.system_instruction == "Be brief. Personality: cheerful."
    assert not any(isinstance(f, LLMMessagesUpdateFrame) for f in down)


async def test_reload_context_also_starts_the_conversation_afresh() -> None:
    setup = Setup()
    down, _, outcomes = await setup.deliver(admin_message(type="reload_context"))
    assert outcomes == [None]
    assert any(isinstance(f, LLMUpdateSettingsFrame) for f in down)
    resets = [f for f in down if isinstance(f, LLMMessagesUpdateFrame)]
    assert [(f.messages, f.run_llm) for f in resets] == [([], False)]


async def test_prompts_that_cannot_be_loaded_are_a_rejection_not_a_crash() -> None:
    setup = Setup(Refused("prompts could not be loaded from Mesh: Mesh is unavailable"))
    down, _, outcomes = await setup.deliver(admin_message(type="update_prompts"))
    assert outcomes == ["prompts could not be loaded from Mesh: Mesh is unavailable"]
    assert not any(isinstance(f, LLMUpdateSettingsFrame) for f in down)


async def test_end_session_says_goodbye_then_ends_and_refuses_what_follows() -> None:
    setup = Setup()
    down, up, outcomes = await setup.deliver(
        admin_message(type="end_session"), admin_message(type="say", text="too late")
    )
    assert outcomes == [None, "the session is ending"]
    assert [f.text for f in down if isinstance(f, TTSSpeakFrame)] == ["Goodbye from admin."]
    assert any(isinstance(f, EndWorkerFrame) for f in up)
    assert setup.ended == ["ended by an admin message"]


async def test_unknown_types_and_bad_fields_are_rejected_with_a_reason() -> None:
    setup = Setup()
    down, _, outcomes = await setup.deliver(
        admin_message(type="dance"),
        admin_message(type="say"),
        admin_message(type="say", text="x" * 5000),
        admin_message(type="append_context", role="assistant", content="hi"),
        admin_message(type="append_context", content="hi", respond="yes"),
    )
    assert outcomes == [
        "unknown message type 'dance'",
        "message.text: Field required",
        "message.text: String should have at most 4000 characters",
        "message.role: Input should be 'system' or 'user'",
        "message.respond: Input should be a valid boolean",
    ]
    assert not any(isinstance(f, (TTSSpeakFrame, LLMMessagesAppendFrame)) for f in down)
