"""The admin function's endpoints. Each authenticates, validates, then calls one collaborator."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.admin.answers import SessionList, SessionSummary, SessionWithMessages
from functions.admin.context import AdminContext
from functions.admin.schemas import AdminRequest
from functions.http.body import read_json, validate
from functions.http.events import read_json_or_event
from functions.http.idempotency import Idempotency, idempotency
from functions.http.sessions import owned_session
from voicefleet.admin_messages import InvalidMessage, checked_message
from voicefleet.admin_queue import AdminMessage, KeyConflict, QueueFull
from voicefleet.contracts import ADMIN_MESSAGE_EVENT, Keys, admin_address
from voicefleet.http_errors import ApiError
from voicefleet.observability.metrics import ADMIN_MESSAGES, ADMIN_QUEUE_DEPTH, admin_type
from voicefleet.rooms import RoomNotAllowed, check_room_url


def _checked_message(message: dict[str, Any]) -> dict[str, Any]:
    """The message as the bot will get it; a 422 in the words the bot would reject it with."""
    try:
        return checked_message(message)
    except InvalidMessage as exc:
        raise ApiError(422, str(exc), field=exc.field) from exc


async def _address(ctx: AdminContext, tenant: str, req: AdminRequest) -> str:
    if req.session_id is not None:
        record = await owned_session(ctx.store, tenant, req.session_id)
        if record.status.is_final:
            raise ApiError(
                409, f"session {record.session_id} has {record.status.value}", field="session_id"
            )
        return admin_address(record.session_id, record.room_url)
    assert req.room_url is not None
    try:
        return check_room_url(req.room_url, ctx.settings.allowed_room_hosts)
    except RoomNotAllowed as exc:
        raise ApiError(422, str(exc), field="room_url") from exc


def _message_view(message: AdminMessage) -> dict[str, Any]:
    return message.model_dump(mode="json", exclude={"tenant"})


async def _send(
    ctx: AdminContext, tenant: str, req: AdminRequest, idem: Idempotency | None
) -> Response:
    message = _checked_message(req.message)
    address = await _address(ctx, tenant, req)
    kind = admin_type(message["type"])
    try:
        sent, created = await ctx.queue.send(
            tenant=tenant,
            address=address,
            message=message,
            idempotency_key=idem.key if idem else None,
            fingerprint=idem.fingerprint if idem else "",
        )
    except KeyConflict as exc:
        ADMIN_MESSAGES.labels(type=kind, outcome="key_conflict").inc()
        assert idem is not None
        raise ApiError(
            422,
            f"Idempotency-Key {idem.key!r} was first used with a different request ({exc}); "
            "a new request needs a new key",
            field="Idempotency-Key",
        ) from exc
    except QueueFull as exc:
        ADMIN_MESSAGES.labels(type=kind, outcome="queue_full").inc()
        raise ApiError(429, str(exc), retry_after_s=5) from exc
    ADMIN_MESSAGES.labels(type=kind, outcome="queued" if created else "duplicate").inc()
    if created:
        waiting = int(await ctx.redis.llen(Keys.admin_queue(address)))
        ADMIN_QUEUE_DEPTH.observe(max(waiting - 1, 0))
    return JSONResponse({"id": sent.id, "status": sent.status.value}, status_code=202)


async def admin(request: Request, ctx: AdminContext) -> Response:
    """`POST /admin {room_url | session_id, message}`: the seed's admin request."""
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    return await _send(ctx, tenant, validate(AdminRequest, data), idempotency(request, data))


async def root(request: Request, ctx: AdminContext) -> Response:
    """`POST /`: an `io.voicefleet.admin.message` CloudEvent, or the same JSON as /admin."""
    tenant = ctx.authenticate(request)
    data, idem = await read_json_or_event(request, ADMIN_MESSAGE_EVENT)
    return await _send(ctx, tenant, validate(AdminRequest, data), idem)


async def get_message(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    message_id = request.path_params["message_id"]
    message = await ctx.queue.get(message_id)
    if message is None or message.tenant != tenant:
        raise ApiError(404, f"no admin message {message_id!r}", field="message_id")
    return JSONResponse(_message_view(message))


async def list_sessions(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    now = time.time()
    # Never list a session that cannot start, or whose runner died.
    await ctx.store.expire_queued(ctx.settings.queue_timeout_s)
    await ctx.store.expire_all_lost()
    records = await ctx.store.active(tenant)
    listed = SessionList(sessions=[SessionSummary.of(r, now) for r in records])
    return JSONResponse(listed.model_dump(mode="json"))


async def get_session(request: Request, ctx: AdminContext) -> Response:
    tenant = ctx.authenticate(request)
    record = await owned_session(ctx.store, tenant, str(request.path_params["session_id"]))
    handled = await ctx.queue.log(record.session_id)
    view = SessionWithMessages.model_validate({**dict(record), "admin_messages": handled})
    return JSONResponse(view.model_dump(mode="json"))
