"""HTML applet tools: `bot_create_applet` (the LLM writes it) and `bot_open_applet`."""

from __future__ import annotations

from typing import Any

from bot import interface_events
from bot.actions import ActionError, html
from bot.tools.base import Result, ToolContext, tool


@tool(
    "bot_create_applet",
    "Create a small interactive HTML applet (a timer, a calculator, a chart) and open it.",
    {
        "title": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "description": "What it does", "maxLength": 4000},
    },
    ["title", "description"],
    needs_mesh=True,
)
async def create_applet(args: dict[str, Any], ctx: ToolContext) -> Result:
    if ctx.applet_writer is None:
        raise ActionError("applets cannot be written in this session")
    applet = await html.create_applet(
        ctx.require_mesh(), ctx.applet_writer, args["title"], args["description"]
    )
    await ctx.forwarder.emit_tool_event(
        interface_events.APPLET_CREATED, {"id": applet["id"], "title": applet["title"]}
    )
    return {"created": {"id": applet["id"], "title": applet["title"]}}


@tool(
    "bot_open_applet",
    "Open one of the user's saved applets.",
    {"applet_id": {"type": "string", "maxLength": 100}},
    ["applet_id"],
    needs_mesh=True,
)
async def open_applet(args: dict[str, Any], ctx: ToolContext) -> Result:
    applet = await html.get_applet(ctx.require_mesh(), args["applet_id"])
    await ctx.forwarder.emit_tool_event(
        interface_events.APPLET_OPENED, {"id": applet["id"], "title": applet["title"]}
    )
    return {"opened": {"id": applet["id"], "title": applet["title"]}}


TOOLS = [create_applet, open_applet]
