"""Notes tools: `bot_create_note`, `bot_get_note`, `bot_list_notes`, `bot_search_notes`,
`bot_update_note`, `bot_append_to_note`, `bot_delete_note`."""

from __future__ import annotations

from typing import Any

from bot import interface_events
from bot.actions import notes
from bot.tools.base import Result, ToolContext, tool

TITLE = {"type": "string", "description": "The note's title", "maxLength": 200}
CONTENT = {"type": "string", "description": "The note's text", "maxLength": 100_000}
NOTE_ID = {"type": "string", "description": "The note's id", "maxLength": 100}


@tool(
    "bot_create_note",
    "Create a new note for the user.",
    {"title": TITLE, "content": CONTENT},
    ["title"],
    needs_mesh=True,
)
async def create_note(args: dict[str, Any], ctx: ToolContext) -> Result:
    note = await notes.create_note(ctx.require_mesh(), args["title"], args.get("content", ""))
    await ctx.forwarder.emit_tool_event(interface_events.NOTE_CREATED, note)
    return {"created": notes.summary(note)}


@tool("bot_get_note", "Read one note by id.", {"note_id": NOTE_ID}, ["note_id"], needs_mesh=True)
async def get_note(args: dict[str, Any], ctx: ToolContext) -> Result:
    note = await notes.get_note(ctx.require_mesh(), args["note_id"])
    await ctx.forwarder.emit_tool_event(interface_events.NOTE_OPENED, {"id": note["id"]})
    return {"note": {"id": note["id"], "title": note["title"], "content": note["content"]}}


async def _listed(found: list[dict[str, Any]], ctx: ToolContext) -> Result:
    """Shows the interface which notes were found, and tells the LLM what they hold."""
    await ctx.forwarder.emit_tool_event(
        interface_events.NOTES_LISTED, {"ids": [n["id"] for n in found]}
    )
    return {"notes": [notes.summary(n) for n in found]}


@tool(
    "bot_list_notes",
    "List the user's most recent notes.",
    {"limit": {"type": "integer", "minimum": 1, "maximum": notes.LIST_MAX}},
    needs_mesh=True,
)
async def list_notes(args: dict[str, Any], ctx: ToolContext) -> Result:
    found = await notes.list_notes(ctx.require_mesh(), args.get("limit", 10))
    return await _listed(found, ctx)


@tool(
    "bot_search_notes",
    "Find notes whose title or text contains the words.",
    {"query": {"type": "string", "maxLength": 200}},
    ["query"],
    needs_mesh=True,
)
async def search_notes(args: dict[str, Any], ctx: ToolContext) -> Result:
    found = await notes.search_notes(ctx.require_mesh(), args["query"])
    return await _listed(found, ctx)


@tool(
    "bot_update_note",
    "Change a note's title or replace its text.",
    {"note_id": NOTE_ID, "title": TITLE, "content": CONTENT},
    ["note_id"],
    needs_mesh=True,
)
async def update_note(args: dict[str, Any], ctx: ToolContext) -> Result:
    note = await notes.update_note(
        ctx.require_mesh(), args["note_id"], args.get("title"), args.get("content")
    )
    await ctx.forwarder.emit_tool_event(interface_events.NOTE_UPDATED, note)
    return {"updated": notes.summary(note)}


@tool(
    "bot_append_to_note",
    "Add text at the end of a note.",
    {"note_id": NOTE_ID, "content": CONTENT},
    ["note_id", "content"],
    needs_mesh=True,
)
async def append_to_note(args: dict[str, Any], ctx: ToolContext) -> Result:
    note = await notes.append_to_note(ctx.require_mesh(), args["note_id"], args["content"])
    await ctx.forwarder.emit_tool_event(interface_events.NOTE_UPDATED, note)
    return {"updated": notes.summary(note)}


@tool("bot_delete_note", "Delete a note.", {"note_id": NOTE_ID}, ["note_id"], needs_mesh=True)
async def delete_note(args: dict[str, Any], ctx: ToolContext) -> Result:
    note_id = await notes.delete_note(ctx.require_mesh(), args["note_id"])
    await ctx.forwarder.emit_tool_event(interface_events.NOTE_DELETED, {"id": note_id})
    return {"deleted": note_id}


TOOLS = [
    create_note,
    get_note,
    list_notes,
    search_notes,
    update_note,
    append_to_note,
    delete_note,
]
