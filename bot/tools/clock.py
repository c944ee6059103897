"""The time: the bot's clock, in the user's time zone or one the user names."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


TOOLS = [get_time]
