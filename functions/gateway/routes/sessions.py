"""A session's record: read it (`GET /sessions/{id}`) or end it (`DELETE`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from functions.http.sessions import owned_session
from voicefleet.contracts import SessionStatus
from voicefleet.signalling import SignalMessage


async def get_session(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    record = await owned_session(ctx.store, tenant, str(request.path_params["session_id"]))
    if record.status is SessionStatus.QUEUED:
        changed = await ctx.store.expire_queued(ctx.settings.queue_timeout_s)
    else:
        changed = await ctx.store.expire_lost([record.session_id])
    if changed:
        # It waited too long, or its runner died: show what it is now.
        record = await owned_session(ctx.store, tenant, record.session_id)
    return JSONResponse(record.model_dump(mode="json"))


async def delete_session(request: Request, ctx: GatewayContext) -> Response:
    """Ends a session: at once if no runner has it yet, else by telling its runner."""
    tenant = ctx.authenticate(request)
    record = await owned_session(ctx.store, tenant, str(request.path_params["session_id"]))
    if record.status.is_final:
        return JSONResponse(record.model_dump(mode="json"))
    if record.status is SessionStatus.QUEUED:
        await ctx.store.finish(
            record.session_id,
            SessionStatus.ENDED,
            room_url=record.room_url,
            reason="ended by client",
        )
    await ctx.relay.send(
        record.session_id,
        SignalMessage(kind="end", payload={"reason": "ended by client"}),
    )
    updated = await ctx.store.get(record.session_id) or record
    return JSONResponse(updated.model_dump(mode="json"), status_code=202)
