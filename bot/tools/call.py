"""Ending the call: the bot says why to the interface, then hangs up."""

from __future__ import annotations

from typing import Any

from bot import interface_events
from bot.actions import ActionError
from bot.tools.base import Result, ToolContext, tool


@tool(
    "bot_end_call",
    "End the call when the user says goodbye or asks to hang up.",
    {"reason": {"type": "string", "maxLength": 200}},
)
async def end_call(args: dict[str, Any], ctx: ToolContext) -> Result:
    if ctx.end_call is None:
        raise ActionError("the call cannot be ended from here")
    reason = args.get("reason") or "the user asked to end the call"
    await ctx.forwarder.emit_tool_event(interface_events.CALL_ENDING, {"reason": reason})
    await ctx.end_call(reason)
    return {"ending": True}


TOOLS = [end_call]
