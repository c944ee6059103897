"""Tools that drive the user's interface: views, windows and YouTube. No data changes."""

from __future__ import annotations

from typing import Any

from bot import interface_events
from bot.tools.base import Result, ToolContext, tool

VIEWS = ["notes", "applets", "profile", "youtube", "settings"]
WINDOW = {"type": "string", "description": "The window's name", "maxLength": 100}


def _view(action: str, event: str) -> Any:
    @tool(
        f"bot_{action}_view",
        f"{action.capitalize()} a view of the user's interface.",
        {"view": {"type": "string", "enum": VIEWS}},
        ["view"],
    )
    async def handler(args: dict[str, Any], ctx: ToolContext) -> Result:
        await ctx.forwarder.emit_tool_event(event, {"view": args["view"]})
        return {"ok": True, "view": args["view"]}

    return handler


def _window(action: str, event: str) -> Any:
    @tool(
        f"bot_{action}_window",
        f"{action.capitalize()} a window in the user's interface.",
        {"window": WINDOW},
        ["window"],
    )
    async def handler(args: dict[str, Any], ctx: ToolContext) -> Result:
        window = str(args["window"]).strip()
        await ctx.forwarder.emit_tool_event(event, {"window": window})
        return {"ok": True, "window": window}

    return handler


@tool(
    "bot_play_youtube",
    "Search YouTube for a video and play the best match in the user's interface.",
    {"query": {"type": "string", "description": "What to search for", "maxLength": 200}},
    ["query"],
)
async def play_youtube(args: dict[str, Any], ctx: ToolContext) -> Result:
    query = str(args["query"]).strip()
    await ctx.forwarder.emit_tool_event(interface_events.YOUTUBE_PLAY, {"query": query})
    return {"playing": query}


TOOLS = [
    _view("open", interface_events.VIEW_OPENED),
    _view("close", interface_events.VIEW_CLOSED),
    _window("open", interface_events.WINDOW_OPENED),
    _window("focus", interface_events.WINDOW_FOCUSED),
    _window("close", interface_events.WINDOW_CLOSED),
    play_youtube,
]
