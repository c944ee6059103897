"""`POST /calls`: the fleet places a phone call, and the bot talks to whoever answers.

The session is made first, as any launch (limits, `Idempotency-Key`), then the call is placed
through the tenant's provider, and the answer is the session:

- Twilio: "create call" with the same TwiML an inbound call is answered with; its progress
  arrives as Twilio's status callbacks (`telephony.twilio_status`).
- Telnyx: Call Control's "Dial" with the media stream's URL (the token in its client state);
  its progress arrives as Call Control webhooks (`telephony.telnyx_events`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.gateway import twiml
from functions.gateway.context import GatewayContext
from functions.gateway.phone_accounts import TelnyxAccount, TwilioAccount, account_of
from functions.gateway.routes.telephony import (
    TELNYX_EVENTS_PATH,
    TELNYX_STREAM_PATH,
    TWILIO_AFTER_STREAM_PATH,
    TWILIO_STATUS_PATH,
    TWILIO_STREAM_PATH,
    public_url,
    remember_call,
    telnyx_calls,
)
from functions.gateway.telnyx_rest import Dial
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
    from_: str = Field(alias="from", pattern=E164, description="your provider's number, E.164")
    body: dict[str, Any] = Field(default_factory=dict, max_length=32)
    provider: Literal["twilio", "telnyx"] | None = Field(
        default=None,
        description="which provider places the call; unset: the tenant's (Twilio if it has both)",
    )


def _account_for(
    ctx: GatewayContext, tenant: str, provider: str | None
) -> tuple[str, TwilioAccount | TelnyxAccount]:
    """The tenant's account that places the call (its first, for the provider asked)."""
    twilio = account_of(ctx.twilio_accounts, tenant) if provider != "telnyx" else None
    placing = {sid: a for sid, a in ctx.telnyx_accounts.items() if a.places_calls}
    telnyx = account_of(placing, tenant) if provider != "twilio" else None
    found: tuple[str, TwilioAccount | TelnyxAccount] | None = twilio or telnyx
    if found is None:
        which = {"twilio": "Twilio", "telnyx": "Telnyx"}.get(provider or "", "Twilio or Telnyx")
        raise ApiError(409, f"no {which} account places calls for this tenant")
    return found


async def place(request: Request, ctx: GatewayContext) -> Response:
    tenant = ctx.authenticate(request)
    data = await read_json(request)
    call = validate(CallRequest, data)
    validate(SessionOverrides, call.body, within="body")
    account_sid, account = _account_for(ctx, tenant, call.provider)
    transport = TransportKind.TWILIO if isinstance(account, TwilioAccount) else TransportKind.TELNYX
    record, created = await ctx.launcher.launch(
        tenant=tenant,
        transport=transport,
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
        call_id = await _dial(ctx, request, call, account_sid, account, token, record.session_id)
    except CallNotPlaced as exc:
        # The session ends here, and its runner (if one took it already) is told.
        await ctx.store.finish(record.session_id, SessionStatus.FAILED, reason=str(exc))
        await ctx.relay.send(
            record.session_id, SignalMessage(kind="end", payload={"reason": str(exc)})
        )
        raise ApiError(502, str(exc)) from exc
    await ctx.stream_tokens.bind(token, record.session_id, call_id)
    # Status callbacks and the stream's end name the call: they find the session by it.
    await remember_call(ctx, transport, call_id, record.session_id)
    await ctx.store.advance_call_status(record.session_id, "queued")
    placed = await ctx.store.get(record.session_id) or record
    return JSONResponse(placed.model_dump(mode="json"), status_code=201)


async def _dial(
    ctx: GatewayContext,
    request: Request,
    call: CallRequest,
    account_sid: str,
    account: TwilioAccount | TelnyxAccount,
    token: str,
    session_id: str,
) -> str:
    """Place the call with the account's provider; the provider's id for it."""
    if isinstance(account, TwilioAccount):
        return await place_call(
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
    assert account.connection_id is not None  # an account that places calls has one
    dial = Dial(
        connection_id=account.connection_id,
        to=call.to,
        from_=call.from_,
        stream_url=public_url(ctx, request, TELNYX_STREAM_PATH, websocket=True),
        stream_token=token,
        webhook_url=public_url(ctx, request, TELNYX_EVENTS_PATH),
        command_id=session_id,
    )
    return await telnyx_calls(ctx, account).dial(dial)
