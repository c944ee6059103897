"""`POST /calls`: the fleet places a phone call, and the bot talks to whoever answers.

The session is made first, as any launch (limits, `Idempotency-Key`), then Twilio's "create
call" is sent the same TwiML an inbound call is answered with; the answer is the session. Its
progress arrives as Twilio's status callbacks (`telephony.twilio_status`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway import twiml
from functions.gateway.context import GatewayContext
from functions.gateway.phone_accounts import account_of
from functions.gateway.routes.telephony import (
    TWILIO_AFTER_STREAM_PATH,
    TWILIO_STATUS_PATH,
    TWILIO_STREAM_PATH,
    public_url,
    remember_call,
)
from functions.gateway.twilio_rest import RING_TIMEOUT_S, CallNotPlaced, place_call
from functions.http.body import read_json, validate
from functions.http.idempotency import idempotency
from voicefleet.contracts import SessionOverrides, SessionStatus, TransportKind
from voicefleet.http_errors import ApiError
from voicefleet.signalling import SignalMessage

E164 = r"^\+[1-9][0-9]{6,14}$"
# The token waits while the phone rings, and a little longer.
_OUTBOUND_TOKEN_TTL_S = RING_TIMEOUT_S + 30


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(pattern=E164, description="the number to call, E.164")
    from_: str = Field(alias="from", pattern=E164, description="your Twilio number, E.164")
    body: dict[str, Any] = Field(default_factory=dict, max_length=32)


async def place(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    call = validate(CallRequest, data)
    validate(SessionOverrides, call.body, within="body")
    found = account_of(ctx.twilio_accounts, tenant)
    if found is None:
        raise ApiError(409, "no Twilio account is configured for this tenant")
    account_sid, account = found
    record, created = await ctx.launcher.launch(
        tenant=tenant,
        transport=TransportKind.TWILIO,
        body=call.body,
        idempotency=idempotency(request, data),
        caller=account.caller(call.to),
    )
    if not created:
        return JSONResponse(record.model_dump(mode="json"))  # a retry: the same call, once
    token = await ctx.stream_tokens.issue(
        record.session_id, f"outbound:{record.session_id}", ttl_s=_OUTBOUND_TOKEN_TTL_S
    )
    try:
        call_sid = await place_call(
            account_sid=account_sid,
            auth_token=account.auth_token.get_secret_value(),
            to=call.to,
            from_=call.from_,
            twiml=twiml.connect_stream_twiml(
                public_url(ctx, request, TWILIO_STREAM_PATH, websocket=True),
                token,
                action_url=public_url(ctx, request, TWILIO_AFTER_STREAM_PATH),
            ),
            status_callback=public_url(ctx, request, TWILIO_STATUS_PATH),
            api_url=ctx.settings.twilio_api_url,
        )
    except CallNotPlaced as exc:
        # The session ends here, and its runner (if one took it already) is told.
        await ctx.store.finish(record.session_id, SessionStatus.FAILED, reason=str(exc))
        await ctx.relay.send(
            record.session_id, SignalMessage(kind="end", payload={"reason": str(exc)})
        )
        raise ApiError(502, str(exc)) from exc
    await ctx.stream_tokens.bind(token, record.session_id, call_sid)
    # Status callbacks and the stream's end name the call: they find the session by it.
    await remember_call(ctx, TransportKind.TWILIO, call_sid, record.session_id)
    await ctx.store.annotate(record.session_id, call_status="queued")
    placed = await ctx.store.get(record.session_id) or record
    return JSONResponse(placed.model_dump(mode="json"), status_code=201)
