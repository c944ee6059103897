"""Functional prompts and personality: what the tenant's bot is told at session start."""

from __future__ import annotations

from dataclasses import dataclass

from bot.mesh_client import MeshClient


@dataclass(frozen=True)
class PromptSet:
    personality: str | None
    functional: list[tuple[str, str]]

    def system_instruction(self, base: str) -> str:
        parts = [base]
        if self.personality:
            parts.append(f"Your personality: {self.personality}")
        parts += [f"{name}: {content}" for name, content in self.functional]
        return "\n\n".join(parts)


async def load_prompts(mesh: MeshClient) -> PromptSet:
    data = await mesh.execute(
        "query { personality { instructions } functionalPrompts { name content } }"
    )
    personality = (data.get("personality") or {}).get("instructions")
    functional = [(p["name"], p["content"]) for p in data.get("functionalPrompts") or []]
    return PromptSet(personality=personality, functional=functional)
