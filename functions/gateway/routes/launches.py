"""The launch endpoints: `POST /`, `/join` and `/start` each start (or find again) a session."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from functions.gateway.daily_phone import phone_room_properties
from functions.gateway.daily_rooms import DailyUnavailable
from functions.gateway.launcher import RoomGrant
from functions.gateway.schemas import JoinRequest, StartRequest
from functions.http.body import read_json, validate
from functions.http.events import read_json_or_event
from functions.http.idempotency import Idempotency, idempotency
from voicefleet.contracts import JOIN_EVENT, SessionOverrides, SessionRecord, TransportKind
from voicefleet.http_errors import ApiError
from voicefleet.rooms import RoomNotAllowed, check_room_url


def session_options(body: dict[str, Any], field: str = "body") -> dict[str, Any]:
    """The client's per-session options, checked here so that a bad one is a 422 now rather
    than a session that fails in its runner."""
    validate(SessionOverrides, body, within=field)
    return body


def _accepted(record: SessionRecord) -> JSONResponse:
    return JSONResponse({"session_id": record.session_id, "status": record.status.value}, 202)


def _check_room(ctx: GatewayContext, room_url: str) -> str:
    try:
        return check_room_url(room_url, ctx.settings.allowed_room_hosts)
    except RoomNotAllowed as exc:
        raise ApiError(422, str(exc), field="room_url") from exc


async def _join(
    ctx: GatewayContext, tenant: str, join: JoinRequest, idem: Idempotency | None
) -> Response:
    room_url = _check_room(ctx, join.room_url)
    record, _ = await ctx.launcher.launch(
        tenant=tenant,
        transport=TransportKind.DAILY,
        room_url=room_url,
        body=session_options(join.body),
        idempotency=idem,
        room_token=join.token,
    )
    return _accepted(record)


async def root(request: Request, ctx: GatewayContext) -> Response:
    """`POST /`: a join CloudEvent (binary or structured) or the seed's plain JSON."""
    tenant = ctx.authenticate(request)
    data, idem = await read_json_or_event(request, JOIN_EVENT)
    return await _join(ctx, tenant, validate(JoinRequest, data), idem)


async def join(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    return await _join(ctx, tenant, validate(JoinRequest, data), idempotency(request, data))


async def start(request: Request, ctx: GatewayContext) -> Response:
    """Pipecat's `POST /start`: a WebRTC session waits for its offer; Daily gets a room."""
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    req = validate(StartRequest, data)
    idem = idempotency(request, data)
    if req.resolved_transport() == "webrtc":
        record, _ = await ctx.launcher.launch(
            tenant=tenant,
            transport=TransportKind.WEBRTC,
            body=session_options(req.body),
            idempotency=idem,
        )
        result: dict[str, Any] = {"sessionId": record.session_id}
        # Offline machines hand out no public STUN server, even when the client asks for one.
        if ctx.ice_servers:
            result["iceConfig"] = {"iceServers": ctx.ice_servers}
        return JSONResponse(result)
    if req.room_url:
        room_url = _check_room(ctx, req.room_url)
        record, _ = await ctx.launcher.launch(
            tenant=tenant,
            transport=TransportKind.DAILY,
            room_url=room_url,
            body=session_options(req.body),
            idempotency=idem,
        )
        return JSONResponse({"sessionId": record.session_id, "dailyRoom": room_url})
    if not req.createDailyRoom:
        raise ApiError(422, "a daily session needs room_url or createDailyRoom", field="room_url")
    daily = ctx.daily
    if daily is None:
        raise ApiError(503, "Daily is not configured on this gateway (DAILY_API_KEY)")

    # A phone call through the room (dial-in, dial-out) needs its SIP/PSTN properties.
    properties = {
        **phone_room_properties(validate(SessionOverrides, req.body, within="body")),
        **(req.dailyRoomProperties or {}),
    }

    async def make_room() -> RoomGrant:
        """Called once the launch is admitted: a refused or repeated request makes no room."""
        try:
            room = await daily.create(properties, req.dailyMeetingTokenProperties)
        except DailyUnavailable as exc:
            raise ApiError(502, f"could not create a Daily room: {exc}") from exc
        try:
            room_url = check_room_url(room.url, ctx.settings.allowed_room_hosts)
        except RoomNotAllowed as exc:
            raise ApiError(502, f"Daily returned a room this gateway may not use: {exc}") from exc
        return RoomGrant(room_url, room.bot_token, room.user_token)

    record, _ = await ctx.launcher.launch(
        tenant=tenant,
        transport=TransportKind.DAILY,
        body=session_options(req.body),
        idempotency=idem,
        make_room=make_room,
    )
    # A retry gets the room its first request made, not a new one that no bot joins.
    return await _daily_started(ctx, record)


async def _daily_started(ctx: GatewayContext, record: SessionRecord) -> JSONResponse:
    if record.room_url is None:
        # A concurrent duplicate: the first request is still making the room.
        raise ApiError(
            409,
            "the first request with this Idempotency-Key is still creating its room; retry",
            retry_after_s=1,
        )
    result: dict[str, Any] = {"sessionId": record.session_id, "dailyRoom": record.room_url}
    token = await ctx.store.client_token(record.session_id)
    if token is not None:
        result["dailyToken"] = token
    return JSONResponse(result)
