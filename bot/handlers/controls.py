"""What a handler may do to the conversation; `PipelineEvents` is the implementation."""

from __future__ import annotations

from typing import Protocol

from pipecat.frames.frames import Frame


class BotControls(Protocol):
    async def say(self, text: str) -> None: ...

    async def push(self, frames: list[Frame]) -> None: ...

    async def tell_llm(
        self, content: str, *, role: str = "system", respond: bool = True
    ) -> None: ...

    async def set_instructions(self, instructions: str) -> None: ...

    async def reset_context(self) -> None: ...

    async def end(self, reason: str, *, now: bool = False) -> None: ...
