"""Phone calls' webhooks: a provider asks what to do with a call, the gateway answers.

`POST /telephony/twilio` is a number's voice webhook. Its signature (X-Twilio-Signature, the
account's auth token) is checked first; then the session is created as any launch is, and the
answer connects the call's media stream to the gateway (functions/gateway/media_stream.py)
with a one-time stream token. A call that cannot be taken now is told so and hung up.
`POST /telephony/telnyx` is the same for a Telnyx TeXML application (Ed25519 signatures), and
`POST /telephony/telnyx/events` takes the Call Control webhooks of the calls the fleet places
through Telnyx (`POST /calls`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from loguru import logger
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from functions.gateway import telnyx_signature, twiml
from functions.gateway.context import GatewayContext
from functions.gateway.phone_accounts import PhoneAccount, TelnyxAccount, TwilioAccount
from functions.gateway.telnyx_rest import TelnyxCalls
from functions.gateway.twilio_rest import CallNotPlaced
from functions.http.idempotency import Idempotency
from voicefleet.cloudevent_intake import read_body
from voicefleet.contracts import Keys, SessionRecord, SessionStatus, TransportKind
from voicefleet.http_errors import ApiError
from voicefleet.session_store import NO_CAPACITY
from voicefleet.signalling import SignalMessage

TWILIO_STREAM_PATH = "/telephony/twilio/stream"
TELNYX_STREAM_PATH = "/telephony/telnyx/stream"
TWILIO_AFTER_STREAM_PATH = "/telephony/twilio/after-stream"
TWILIO_STATUS_PATH = "/telephony/twilio/status"
TELNYX_AFTER_STREAM_PATH = "/telephony/telnyx/after-stream"
TELNYX_EVENTS_PATH = "/telephony/telnyx/events"
# How a call that never reached the bot ends its session (Twilio's CallStatus → reason).
_UNANSWERED = {
    "busy": "the line was busy",
    "no-answer": "no answer",
    "failed": "the call could not be connected",
    "canceled": "the call was canceled",
}
# A placed Telnyx call that ends unanswered: its `hangup_cause` as Twilio's CallStatus (above).
_TELNYX_HANGUPS = {
    "user_busy": "busy",
    "call_rejected": "busy",
    "timeout": "no-answer",
    "originator_cancel": "canceled",
}
# The causes of a call that was answered and then ended.
_TELNYX_ENDED = {"normal_clearing", "time_limit"}
# Refusals that mean "not now" (limits, no broker, no runner): the caller hears that lines are
# busy. Anything else is the webhook's own fault and answered as an HTTP error.
_BUSY_STATUSES = (429, 503)


def public_url(ctx: GatewayContext, request: Request, path: str, *, websocket: bool = False) -> str:
    """The URL a provider reaches `path` at: the configured public URL, else this request's."""
    base = ctx.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
    url = base.rstrip("/") + path
    if websocket:
        url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return url


def call_idempotency(call_sid: str, transport: TransportKind) -> Idempotency:
    """One session per call, however often the provider retries its webhook (a retry may
    differ in its other parameters, so no fingerprint)."""
    return Idempotency(f"{transport.value}-call:{call_sid}", "")


async def remember_call(
    ctx: GatewayContext, transport: TransportKind, call_sid: str, session_id: str
) -> None:
    """Let the call's later webhooks (status, the stream's end) find its session."""
    key = Keys.phone_call(transport.value, call_sid)
    await ctx.redis.set(key, session_id, ex=ctx.settings.idempotency_ttl_s)


async def session_of_call(
    ctx: GatewayContext, tenant: str, transport: TransportKind, call_sid: str
) -> SessionRecord | None:
    session_id = await ctx.redis.get(Keys.phone_call(transport.value, call_sid))
    record = await ctx.store.get(str(session_id)) if session_id else None
    return record if record is not None and record.tenant == tenant else None


async def _signed_twilio(
    ctx: GatewayContext, request: Request
) -> tuple[TwilioAccount, dict[str, str]]:
    """The account and the form parameters of a request Twilio signed; 403 otherwise."""
    body = await read_body(request)
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    account = ctx.twilio_accounts.get(params.get("AccountSid", ""))
    signature = request.headers.get("x-twilio-signature", "")
    url = public_url(ctx, request, request.url.path)
    if request.url.query:
        url += "?" + request.url.query
    if account is None or not signature:
        raise ApiError(403, "invalid Twilio signature")
    validator = RequestValidator(account.auth_token.get_secret_value())
    if not validator.validate(url, params, signature):
        raise ApiError(403, "invalid Twilio signature")
    if not params.get("CallSid"):
        raise ApiError(400, "a call webhook needs CallSid", field="CallSid")
    return account, params


async def twilio_call(request: Request, ctx: GatewayContext) -> Response:
    account, params = await _signed_twilio(ctx, request)
    answered = await _answer_call(ctx, request, account, params, TransportKind.TWILIO)
    if answered is None:
        return twiml.busy()
    return twiml.connect_stream(
        public_url(ctx, request, TWILIO_STREAM_PATH, websocket=True),
        answered[1],
        action_url=public_url(ctx, request, TWILIO_AFTER_STREAM_PATH),
    )


async def twilio_after_stream(request: Request, ctx: GatewayContext) -> Response:
    """The `<Connect>`'s action: the stream has ended. A call no runner took is told the
    lines are busy; every other call is hung up."""
    account, params = await _signed_twilio(ctx, request)
    record = await session_of_call(ctx, account.tenant, TransportKind.TWILIO, params["CallSid"])
    return twiml.busy() if _no_runner_took(record) else twiml.hang_up()


def _no_runner_took(record: SessionRecord | None) -> bool:
    """Whether the call's session failed for want of a runner (its caller hears "busy")."""
    return (
        record is not None
        and record.status is SessionStatus.FAILED
        and (record.reason or "").startswith(NO_CAPACITY)
    )


async def twilio_status(request: Request, ctx: GatewayContext) -> Response:
    """Twilio's status callbacks for a call the fleet placed (`POST /calls`): the session
    records each step, and a call that was not answered ends its session, and its bot."""
    account, params = await _signed_twilio(ctx, request)
    record = await session_of_call(ctx, account.tenant, TransportKind.TWILIO, params["CallSid"])
    if record is None:
        raise ApiError(404, "no session for this call")
    await _follow_call(ctx, record, params.get("CallStatus", "")[:32])
    return Response(status_code=204)


async def _follow_call(ctx: GatewayContext, record: SessionRecord, status: str) -> None:
    """A placed call's progress (Twilio's CallStatus vocabulary, whichever the provider): the
    session records it, and a call that was not answered ends its session, and its bot."""
    if not await ctx.store.advance_call_status(record.session_id, status):
        return  # a step already passed (a late or repeated callback), or not a call status
    reason = _UNANSWERED.get(status)
    if reason is not None and not record.status.is_final:
        await ctx.store.finish(record.session_id, SessionStatus.FAILED, reason=reason)
        await ctx.relay.send(
            record.session_id, SignalMessage(kind="end", payload={"reason": reason})
        )


def _telnyx_signer(account: TelnyxAccount | None, request: Request, body: bytes) -> TelnyxAccount:
    """The account, if it is known and its key signed this body (Ed25519); 403 otherwise."""
    if account is None or not telnyx_signature.verify(
        account.public_key,
        request.headers.get(telnyx_signature.SIGNATURE_HEADER, ""),
        request.headers.get(telnyx_signature.TIMESTAMP_HEADER, ""),
        body,
    ):
        raise ApiError(403, "invalid Telnyx signature")
    return account


async def _signed_telnyx(
    ctx: GatewayContext, request: Request
) -> tuple[TelnyxAccount, dict[str, str]]:
    """The account and parameters of a TeXML webhook Telnyx signed (Ed25519); 403 otherwise."""
    body = await read_body(request)
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    account = ctx.telnyx_accounts.get(params.get("AccountSid", ""))
    account = _telnyx_signer(account, request, body)
    if not params.get("CallSid"):
        raise ApiError(400, "a call webhook needs CallSid", field="CallSid")
    return account, params


async def _answer_call(
    ctx: GatewayContext,
    request: Request,
    account: PhoneAccount,
    params: dict[str, str],
    transport: TransportKind,
) -> tuple[str, str] | None:
    """Launch the call's session; its stream token, or None if the call is turned away."""
    call_sid = params["CallSid"]
    try:
        record, _ = await ctx.launcher.launch(
            tenant=account.tenant,
            transport=transport,
            body=account.body,
            idempotency=call_idempotency(call_sid, transport),
            caller=account.caller(params.get("From")),
        )
    except ApiError as exc:
        if exc.status not in _BUSY_STATUSES:
            raise
        logger.info("call {} for tenant {} turned away: {}", call_sid, account.tenant, exc.message)
        return None
    except (RedisConnectionError, RedisTimeoutError) as exc:
        # A caller hears that lines are busy, not the provider's own error message.
        logger.warning("call {} turned away: session store unavailable ({})", call_sid, exc)
        return None
    await remember_call(ctx, transport, call_sid, record.session_id)
    # Telnyx's stream names the call by its call control id, not the TeXML CallSid: its token
    # is bound to the session alone (still once, and for seconds).
    bound_to = call_sid if transport is TransportKind.TWILIO else ""
    return record.session_id, await ctx.stream_tokens.issue(record.session_id, bound_to)


async def telnyx_call(request: Request, ctx: GatewayContext) -> Response:
    """`POST /telephony/telnyx`: a TeXML application's voice webhook."""
    account, params = await _signed_telnyx(ctx, request)
    answered = await _answer_call(ctx, request, account, params, TransportKind.TELNYX)
    if answered is None:
        return twiml.busy()
    return twiml.texml_stream(
        public_url(ctx, request, TELNYX_STREAM_PATH, websocket=True),
        answered[1],
        after_url=public_url(ctx, request, TELNYX_AFTER_STREAM_PATH),
    )


async def telnyx_after_stream(request: Request, ctx: GatewayContext) -> Response:
    """The TeXML's `<Redirect>` once the stream has ended (TeXML's `<Connect>` has no
    `action`; the next verb runs when the stream stops): as `twilio_after_stream`."""
    account, params = await _signed_telnyx(ctx, request)
    record = await session_of_call(ctx, account.tenant, TransportKind.TELNYX, params["CallSid"])
    return twiml.busy() if _no_runner_took(record) else twiml.hang_up()


def telnyx_calls(ctx: GatewayContext, account: TelnyxAccount) -> TelnyxCalls:
    """The account's Call Control client (an account that places calls has an API key)."""
    assert account.api_key is not None
    return TelnyxCalls(
        ctx.http, api_url=ctx.settings.telnyx_api_url, api_key=account.api_key.get_secret_value()
    )


async def _signed_telnyx_event(
    ctx: GatewayContext, request: Request
) -> tuple[TelnyxAccount, str, dict[str, Any]]:
    """The account, event type and payload of a Call Control webhook Telnyx signed; 403
    otherwise. The account is the one whose Call Control application (`connection_id`) the
    call was placed with."""
    body = await read_body(request)
    try:
        data = json.loads(body)["data"]
        event_type, payload = str(data["event_type"]), dict(data["payload"])
    except (ValueError, KeyError, TypeError):
        event_type, payload = "", {}
    connection_id = payload.get("connection_id")
    account = next(
        (
            a
            for a in ctx.telnyx_accounts.values()
            if connection_id and a.connection_id == connection_id
        ),
        None,
    )
    account = _telnyx_signer(account, request, body)
    if not isinstance(payload.get("call_control_id"), str):
        raise ApiError(400, "a call event needs call_control_id", field="call_control_id")
    return account, event_type, payload


async def telnyx_events(request: Request, ctx: GatewayContext) -> Response:
    """Call Control webhooks for a call the fleet placed through Telnyx: the session follows
    the call (`call.initiated`, `call.answered`, `call.hangup` by its cause), and when the
    media stream stops the call is hung up, after "all lines are busy" if no runner took it
    (a Call Control call, unlike a TeXML one, stays up when its stream ends)."""
    account, event_type, payload = await _signed_telnyx_event(ctx, request)
    call_control_id = payload["call_control_id"]
    record = await session_of_call(ctx, account.tenant, TransportKind.TELNYX, call_control_id)
    if record is None:
        raise ApiError(404, "no session for this call")
    if event_type == "call.initiated":
        await _follow_call(ctx, record, "initiated")
    elif event_type == "call.answered":
        await _follow_call(ctx, record, "in-progress")
    elif event_type == "call.hangup":
        cause = str(payload.get("hangup_cause") or "")
        answered = record.call_status == "in-progress" or cause in _TELNYX_ENDED
        await _follow_call(
            ctx, record, "completed" if answered else _TELNYX_HANGUPS.get(cause, "failed")
        )
    elif event_type in ("streaming.stopped", "streaming.failed", "call.speak.ended"):
        await _end_placed_call(ctx, account, record, call_control_id, event_type)
    return Response(status_code=200)


async def _end_placed_call(
    ctx: GatewayContext,
    account: TelnyxAccount,
    record: SessionRecord,
    call_control_id: str,
    event_type: str,
) -> None:
    """The stream is over: say that lines are busy if no runner took the call (then hang up
    once it is said), else hang up. A call already over refuses the command: that is fine."""
    calls = telnyx_calls(ctx, account)
    try:
        if event_type != "call.speak.ended" and _no_runner_took(record):
            await calls.speak(call_control_id, twiml.BUSY_MESSAGE)
        else:
            await calls.hang_up(call_control_id)
    except CallNotPlaced as exc:
        logger.info("call {}: {}", record.session_id, exc)
