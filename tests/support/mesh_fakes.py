"""Test doubles at the tools' boundaries: a scripted Mesh client and a recording forwarder."""

from __future__ import annotations

from typing import Any

from bot.forwarder import EventForwarder
from bot.mesh_client import MeshClient
from voicefleet.contracts import TransportKind


class FakeMesh(MeshClient):
    """Answers each query with the next scripted response (or raises it) and records calls."""

    def __init__(self, *responses: dict[str, Any] | Exception) -> None:
        self.tenant, self.user = "acme", "ada"
        self.responses = list(responses)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((query, variables or {}))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def recording_forwarder(
    kind: TransportKind = TransportKind.WEBRTC,
) -> tuple[EventForwarder, list[Any]]:
    frames: list[Any] = []

    async def push(new: list[Any]) -> None:
        frames.extend(new)

    return EventForwarder(kind, push), frames


def note(note_id: str = "n1", title: str = "Meeting", content: str = "") -> dict[str, Any]:
    return {
        "id": note_id,
        "title": title,
        "content": content,
        "createdAt": "2026-11-24T10:00:00Z",
        "updatedAt": "2026-11-24T10:00:00Z",
    }
