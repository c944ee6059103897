"""Small tools: the time, and ending the call."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import events
from bot.actions import ActionError
from bot.tools.base import Result, ToolContext, tool


@tool(
    "bot_get_time",
    "The current date and time, optionally in a time zone such as Europe/Paris.",
    {"timezone": {"type": "string", "maxLength": 64}},
)
async def get_time(args: dict[str, Any], ctx: ToolContext) -> Result:
    name = args.get("timezone") or ctx.timezone
    try:
        now = datetime.now(ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ActionError(f"unknown time zone {name!r}") from exc
    return {"now": now.isoformat(timespec="minutes"), "timezone": name}


@tool(
    "bot_end_call",
    "End the call when the user says goodbye or asks to hang up.",
    {"reason": {"type": "string", "maxLength": 200}},
)
async def end_call(args: dict[str, Any], ctx: ToolContext) -> Result:
    if ctx.end_call is None:
        raise ActionError("the call cannot be ended from here")
    reason = args.get("reason") or "the user asked to end the call"
    await ctx.forwarder.emit_tool_event(events.CALL_ENDING, {"reason": reason})
    await ctx.end_call(reason)
    return {"ending": True}


TOOLS = [get_time, end_call]
