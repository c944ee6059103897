"""The signalling relay: SDP offers and ICE candidates carried to the session's bot."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway.context import GatewayContext
from functions.gateway.routes.launches import session_options
from functions.gateway.schemas import IcePatchRequest, OfferRequest
from functions.http.body import read_json, validate
from functions.http.idempotency import idempotency
from functions.http.sessions import owned_session
from voicefleet.contracts import Keys, SessionRecord, TransportKind
from voicefleet.http_errors import ApiError
from voicefleet.observability.metrics import OFFER_RELAY
from voicefleet.sdp import InvalidOffer, check_offer
from voicefleet.signalling import SignallingTimeout, SignalMessage, SignalReply

PEER_TTL_S = 3600


def _refused(reply: SignalReply, default: str) -> ApiError:
    """The runner's refusal as the client's error; a reply without an error status is a 502."""
    status = reply.status if 400 <= reply.status <= 599 else 502
    return ApiError(status, reply.error or default)


def _offer(data: dict[str, Any]) -> OfferRequest:
    """A valid offer, or a 400 naming the problem before any session or bot is touched."""
    offer = validate(OfferRequest, data)
    try:
        check_offer(offer.sdp)
    except InvalidOffer as exc:
        raise ApiError(400, str(exc), field="sdp") from exc
    return offer


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
            body=session_options(offer.request_data or {}, "requestData"),
            idempotency=idempotency(request, data),
        )
    answer = await _relay_offer(ctx, record, offer)
    return JSONResponse({**answer, "session_id": record.session_id})


async def _relay_ice(
    ctx: GatewayContext, record: SessionRecord, patch: IcePatchRequest
) -> Response:
    message = SignalMessage(kind="ice", payload=patch.model_dump())
    await _ask_bot(ctx, record, message, "the bot refused the candidates")
    return JSONResponse({"status": "success"})
