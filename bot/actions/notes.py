"""Notes: create, read, list, search, update, append, delete."""

from __future__ import annotations

from typing import Any

from bot.actions import ActionError
from bot.actions.validation import CONTENT_MAX, TITLE_MAX, identifier, text
from bot.mesh_client import MeshClient

NOTE = "id title content createdAt updatedAt"
LIST_MAX = 50
PREVIEW_CHARS = 200


def summary(note: dict[str, Any]) -> dict[str, Any]:
    """What the LLM needs to talk about a note, without its whole body."""
    content = note.get("content") or ""
    preview = content[:PREVIEW_CHARS] + ("…" if len(content) > PREVIEW_CHARS else "")
    return {"id": note["id"], "title": note["title"], "preview": preview}


async def create_note(mesh: MeshClient, title: object, content: object = "") -> dict[str, Any]:
    variables = {
        "title": text(title, "title", max_len=TITLE_MAX),
        "content": text(content, "content", max_len=CONTENT_MAX, required=False),
    }
    data = await mesh.execute(
        "mutation($title: String!, $content: String) "
        f"{{ createNote(title: $title, content: $content) {{ {NOTE} }} }}",
        variables,
    )
    return dict(data["createNote"])


async def get_note(mesh: MeshClient, note_id: object) -> dict[str, Any]:
    data = await mesh.execute(
        f"query($id: ID!) {{ note(id: $id) {{ {NOTE} }} }}", {"id": identifier(note_id, "note_id")}
    )
    if data.get("note") is None:
        raise ActionError("there is no such note")
    return dict(data["note"])


async def list_notes(mesh: MeshClient, limit: object = 10) -> list[dict[str, Any]]:
    if not isinstance(limit, int) or not 1 <= limit <= LIST_MAX:
        raise ActionError(f"limit must be a whole number from 1 to {LIST_MAX}")
    data = await mesh.execute(
        f"query($limit: Int) {{ notes(limit: $limit) {{ {NOTE} }} }}", {"limit": limit}
    )
    return [dict(n) for n in data["notes"]]


async def search_notes(mesh: MeshClient, query: object, limit: int = 10) -> list[dict[str, Any]]:
    data = await mesh.execute(
        f"query($q: String!, $limit: Int) {{ searchNotes(query: $q, limit: $limit) {{ {NOTE} }} }}",
        {"q": text(query, "query", max_len=200), "limit": limit},
    )
    return [dict(n) for n in data["searchNotes"]]


async def update_note(
    mesh: MeshClient, note_id: object, title: object = None, content: object = None
) -> dict[str, Any]:
    if title is None and content is None:
        raise ActionError("give a new title or new content")
    variables: dict[str, Any] = {"id": identifier(note_id, "note_id")}
    if title is not None:
        variables["title"] = text(title, "title", max_len=TITLE_MAX)
    if content is not None:
        variables["content"] = text(content, "content", max_len=CONTENT_MAX, required=False)
    data = await mesh.execute(
        "mutation($id: ID!, $title: String, $content: String) "
        f"{{ updateNote(id: $id, title: $title, content: $content) {{ {NOTE} }} }}",
        variables,
    )
    return dict(data["updateNote"])


async def append_to_note(mesh: MeshClient, note_id: object, content: object) -> dict[str, Any]:
    data = await mesh.execute(
        "mutation($id: ID!, $content: String!) "
        f"{{ appendToNote(id: $id, content: $content) {{ {NOTE} }} }}",
        {
            "id": identifier(note_id, "note_id"),
            "content": text(content, "content", max_len=CONTENT_MAX),
        },
    )
    return dict(data["appendToNote"])


async def delete_note(mesh: MeshClient, note_id: object) -> str:
    note_id = identifier(note_id, "note_id")
    data = await mesh.execute("mutation($id: ID!) { deleteNote(id: $id) }", {"id": note_id})
    if not data["deleteNote"]:
        raise ActionError("there is no such note")
    return note_id
