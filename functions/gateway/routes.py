"""The gateway's endpoints. Each authenticates, validates, then calls one collaborator."""

from __future__ import annotations

import time
from typing import Any

from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from functions.gateway.daily_rooms import DailyUnavailable
from functions.gateway.schemas import (
    IcePatchRequest,
    JoinRequest,
    OfferRequest,
    StartRequest,
)
from functions.http.body import idempotency_key, read_body, read_json, validate
from functions.http.errors import ApiError
from functions.http.events import read_cloudevent
from functions.http.sessions import owned_session
from voicefleet import cloudevents_codec
from voicefleet.contracts import (
    JOIN_EVENT,
    LAUNCH_EVENT,
    Keys,
    LaunchPayload,
    SessionOverrides,
    SessionRecord,
    SessionStatus,
    TransportKind,
)
from voicefleet.observability.metrics import DEAD_LETTERS, OFFER_RELAY
from voicefleet.rooms import RoomNotAllowed, check_room_url
from voicefleet.sdp import InvalidOffer, check_offer
from voicefleet.signalling import SignallingTimeout, SignalMessage, SignalReply

PEER_TTL_S = 3600


def _refused(reply: SignalReply, default: str) -> ApiError:
    """The runner's refusal as the client's error; a reply without an error status is a 502."""
    status = reply.status if 400 <= reply.status <= 599 else 502
    return ApiError(status, reply.error or default)


def _session_body(body: dict[str, Any], field: str = "body") -> dict[str, Any]:
    """The client's per-session options, checked here so that a bad one is a 422 now rather
    than a session that fails in its runner."""
    validate(SessionOverrides, body, within=field)
    return body


def _offer(data: dict[str, Any]) -> OfferRequest:
    """A valid offer, or a 400 naming the problem before any session or bot is touched."""
    offer = validate(OfferRequest, data)
    try:
        check_offer(offer.sdp)
    except InvalidOffer as exc:
        raise ApiError(400, str(exc), field="sdp") from exc
    return offer


def _accepted(record: SessionRecord) -> JSONResponse:
    return JSONResponse({"session_id": record.session_id, "status": record.status.value}, 202)


def _check_room(ctx: GatewayContext, room_url: str) -> str:
    try:
        return check_room_url(room_url, ctx.settings.allowed_room_hosts)
    except RoomNotAllowed as exc:
        raise ApiError(422, str(exc), field="room_url") from exc


async def _join(ctx: GatewayContext, tenant: str, join: JoinRequest, idem: str | None) -> Response:
    room_url = _check_room(ctx, join.room_url)
    record, _ = await ctx.launcher.launch(
        tenant=tenant,
        transport=TransportKind.DAILY,
        room_url=room_url,
        body=_session_body(join.body),
        idempotency_key=idem,
        room_token=join.token,
    )
    return _accepted(record)


async def healthz(request: Request, ctx: GatewayContext) -> Response:
    return JSONResponse({"status": "ok"})


async def root(request: Request, ctx: GatewayContext) -> Response:
    """`POST /`: a join CloudEvent (binary or structured) or the seed's plain JSON."""
    tenant = ctx.authenticate(request)
    if not cloudevents_codec.is_cloudevent(request.headers):
        return await _join(
            ctx,
            tenant,
            validate(JoinRequest, await read_json(request)),
            idempotency_key(request),
        )
    data, idem = await read_cloudevent(request, JOIN_EVENT)
    return await _join(ctx, tenant, validate(JoinRequest, data), idem)


async def join(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    req = validate(JoinRequest, await read_json(request))
    return await _join(ctx, tenant, req, idempotency_key(request))


async def start(request: Request, ctx: GatewayContext) -> Response:
    """Pipecat's `POST /start`: a WebRTC session waits for its offer; Daily gets a room."""
    tenant = ctx.authenticate(request)
    req = validate(StartRequest, await read_json(request))
    idem = idempotency_key(request)
    if req.resolved_transport() == "webrtc":
        record, _ = await ctx.launcher.launch(
            tenant=tenant,
            transport=TransportKind.WEBRTC,
            body=_session_body(req.body),
            idempotency_key=idem,
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
            body=_session_body(req.body),
            idempotency_key=idem,
        )
        return JSONResponse({"sessionId": record.session_id, "dailyRoom": room_url})
    if not req.createDailyRoom:
        raise ApiError(422, "a daily session needs room_url or createDailyRoom", field="room_url")
    if ctx.daily is None:
        raise ApiError(503, "Daily is not configured on this gateway (DAILY_API_KEY)")
    if idem is not None:
        # A retry gets the room its first request made, not a new one that no bot joins.
        earlier = await ctx.store.by_idempotency_key(tenant, idem)
        if earlier is not None:
            return await _daily_started(ctx, earlier)
    try:
        room = await ctx.daily.create(req.dailyRoomProperties, req.dailyMeetingTokenProperties)
    except DailyUnavailable as exc:
        raise ApiError(502, f"could not create a Daily room: {exc}") from exc
    try:
        room_url = check_room_url(room.url, ctx.settings.allowed_room_hosts)
    except RoomNotAllowed as exc:
        raise ApiError(502, f"Daily returned a room this gateway may not use: {exc}") from exc
    record, _ = await ctx.launcher.launch(
        tenant=tenant,
        transport=TransportKind.DAILY,
        room_url=room_url,
        body=_session_body(req.body),
        idempotency_key=idem,
        room_token=room.bot_token,
        client_token=room.user_token,
    )
    # A concurrent duplicate may have won: answer with its session, room and token.
    return await _daily_started(ctx, record)


async def _daily_started(ctx: GatewayContext, record: SessionRecord) -> JSONResponse:
    result: dict[str, Any] = {"sessionId": record.session_id, "dailyRoom": record.room_url}
    token = await ctx.store.client_token(record.session_id)
    if token is not None:
        result["dailyToken"] = token
    return JSONResponse(result)


async def _ask_bot(
    ctx: GatewayContext, record: SessionRecord, message: SignalMessage, refused: str
) -> SignalReply:
    """Relay a signalling message to the session's runner and wait for its reply."""
    if record.status.is_final:
        raise ApiError(409, f"session is {record.status.value}")
    started = time.perf_counter()
    relayed = OFFER_RELAY.labels(kind=message.kind, outcome="timeout")
    try:
        reply = await ctx.relay.request(
            record.session_id, message, timeout_s=ctx.settings.offer_timeout_s
        )
    except SignallingTimeout as exc:
        relayed.observe(time.perf_counter() - started)
        raise ApiError(504, f"no bot picked up the session: {exc}") from exc
    outcome = "ok" if reply.ok else "refused"
    OFFER_RELAY.labels(kind=message.kind, outcome=outcome).observe(time.perf_counter() - started)
    if not reply.ok:
        raise _refused(reply, refused)
    return reply


async def _relay_offer(
    ctx: GatewayContext, record: SessionRecord, offer: OfferRequest
) -> dict[str, Any]:
    if record.transport is not TransportKind.WEBRTC:
        raise ApiError(409, "this session does not use WebRTC")
    message = SignalMessage(kind="offer", payload=offer.model_dump(exclude_none=True))
    reply = await _ask_bot(ctx, record, message, "the bot refused the offer")
    pc_id = reply.data.get("pc_id")
    if isinstance(pc_id, str):
        await ctx.redis.set(Keys.peer_connection(pc_id), record.session_id, ex=PEER_TTL_S)
    return reply.data


async def session_offer(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    record = await owned_session(ctx.store, tenant, str(request.path_params["session_id"]))
    data = await read_json(request)
    if request.method == "PATCH":
        return await _relay_ice(ctx, record, validate(IcePatchRequest, data))
    return JSONResponse(await _relay_offer(ctx, record, _offer(data)))


async def direct_offer(request: Request, ctx: GatewayContext) -> Response:
    """Pipecat's dev-runner shape: the offer itself starts the session."""
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    if request.method == "PATCH":
        patch = validate(IcePatchRequest, data)
        session_id = await ctx.redis.get(Keys.peer_connection(patch.pc_id))
        if session_id is None:
            raise ApiError(404, f"no peer connection {patch.pc_id!r}", field="pc_id")
        record = await owned_session(ctx.store, tenant, str(session_id))
        return await _relay_ice(ctx, record, patch)
    offer = _offer(data)
    if offer.pc_id:
        session_id = await ctx.redis.get(Keys.peer_connection(offer.pc_id))
        if session_id is None:
            raise ApiError(404, f"no peer connection {offer.pc_id!r}", field="pc_id")
        record = await owned_session(ctx.store, tenant, str(session_id))
    else:
        record, _ = await ctx.launcher.launch(
            tenant=tenant,
            transport=TransportKind.WEBRTC,
            body=_session_body(offer.request_data or {}, "requestData"),
            idempotency_key=idempotency_key(request),
        )
    answer = await _relay_offer(ctx, record, offer)
    return JSONResponse({**answer, "session_id": record.session_id})


async def _relay_ice(
    ctx: GatewayContext, record: SessionRecord, patch: IcePatchRequest
) -> Response:
    message = SignalMessage(kind="ice", payload=patch.model_dump())
    await _ask_bot(ctx, record, message, "the bot refused the candidates")
    return JSONResponse({"status": "success"})


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


async def dead_letter(request: Request, ctx: GatewayContext) -> Response:
    """The Trigger's dead-letter sink: a launch no runner took marks its session failed.

    The broker cannot carry a bearer key, so the event proves itself instead: it must name an
    existing session with the same tenant and creation time, which only its launch knows.
    """
    try:
        event = cloudevents_codec.parse(request.headers, await read_body(request))
        payload = LaunchPayload.model_validate(cloudevents_codec.data_of(event))
    except (cloudevents_codec.InvalidCloudEvent, ValueError) as exc:
        raise ApiError(400, f"not a dead-lettered launch: {exc}") from exc
    if event["type"] != LAUNCH_EVENT:
        raise ApiError(400, f"unexpected CloudEvent type {event['type']!r}", field="type")
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
