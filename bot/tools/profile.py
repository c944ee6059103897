"""Profile tools: `bot_get_profile`, `bot_update_profile`."""

from __future__ import annotations

from typing import Any

from bot import interface_events
from bot.actions import profile
from bot.tools.base import Result, ToolContext, tool


@tool("bot_get_profile", "Read the user's name and preferences.", needs_mesh=True)
async def get_profile(args: dict[str, Any], ctx: ToolContext) -> Result:
    return {"profile": await profile.get_profile(ctx.require_mesh())}


@tool(
    "bot_update_profile",
    'Change the user\'s display name or preferences (e.g. {"units": "metric"}).',
    {
        "display_name": {"type": "string", "maxLength": 100},
        "preferences": {"type": "object", "maxProperties": 50},
    },
    needs_mesh=True,
)
async def update_profile(args: dict[str, Any], ctx: ToolContext) -> Result:
    updated = await profile.update_profile(
        ctx.require_mesh(), args.get("display_name"), args.get("preferences")
    )
    await ctx.forwarder.emit_tool_event(interface_events.PROFILE_UPDATED, updated)
    return {"profile": updated}


TOOLS = [get_profile, update_profile]
