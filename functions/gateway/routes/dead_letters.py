"""The Trigger's dead-letter sink: a launch no runner took."""

from __future__ import annotations

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from voicefleet.cloudevent_intake import event_payload, read_event
from voicefleet.contracts import LAUNCH_EVENT, LaunchPayload, SessionStatus
from voicefleet.http_errors import ApiError
from voicefleet.observability.metrics import DEAD_LETTERS


async def dead_letter(request: Request, ctx: GatewayContext) -> Response:
    """The Trigger's dead-letter sink: a launch no runner took marks its session failed.

    The broker cannot carry a bearer key, so the event proves itself instead: it must name an
    existing session with the same tenant and creation time, which only its launch knows.
    """
    event, data, _ = await read_event(request, LAUNCH_EVENT)
    payload = event_payload(LaunchPayload, data, what="a dead-lettered launch")
    record = await ctx.store.get(payload.session_id)
    if (
        record is None
        or record.tenant != payload.tenant
        or abs(record.created_at - payload.created_at) > 1e-3
    ):
        raise ApiError(404, "no such launch")
    code = event.get("knativeerrorcode") or "unknown"
    changed = await ctx.store.finish(
        payload.session_id,
        SessionStatus.FAILED,
        room_url=record.room_url,
        reason=f"no runner accepted the launch (last status {code})",
    )
    if changed:
        DEAD_LETTERS.inc()
        logger.warning("session {} failed: launch dead-lettered ({})", payload.session_id, code)
    return JSONResponse({"session_id": payload.session_id, "failed": changed})
