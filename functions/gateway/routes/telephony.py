"""Phone calls' webhooks: a provider asks what to do with a call, the gateway answers.

`POST /telephony/twilio` is a number's voice webhook. Its signature (X-Twilio-Signature, the
account's auth token) is checked first; then the session is created as any launch is, and the
answer connects the call's media stream to the gateway (functions/gateway/media_stream.py)
with a one-time stream token. A call that cannot be taken now is told so and hung up.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from loguru import logger
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from functions.gateway import twiml
from functions.gateway.context import GatewayContext
from functions.gateway.phone_accounts import PhoneAccount
from functions.http.body import read_body
from functions.http.errors import ApiError
from voicefleet.contracts import SessionStatus, TransportKind
from voicefleet.session_store import NO_CAPACITY

TWILIO_STREAM_PATH = "/telephony/twilio/stream"
TWILIO_AFTER_STREAM_PATH = "/telephony/twilio/after-stream"
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


def _call_key(call_sid: str) -> str:
    """One session per call, however often Twilio retries its webhook."""
    return f"twilio-call:{call_sid}"


async def _signed_twilio(ctx: GatewayContext, request: Request) -> tuple[PhoneAccount, dict[str, str]]:
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
    call_sid = params["CallSid"]
    try:
        record, _ = await ctx.launcher.launch(
            tenant=account.tenant,
            transport=TransportKind.TWILIO,
            body=account.body,
            idempotency_key=_call_key(call_sid),
            caller=account.caller(params.get("From")),
        )
    except ApiError as exc:
        if exc.status not in _BUSY_STATUSES:
            raise
        logger.info("call {} for tenant {} turned away: {}", call_sid, account.tenant, exc.message)
        return twiml.busy()
    token = await ctx.stream_tokens.issue(record.session_id, call_sid)
    return twiml.connect_stream(
        public_url(ctx, request, TWILIO_STREAM_PATH, websocket=True),
        token,
        action_url=public_url(ctx, request, TWILIO_AFTER_STREAM_PATH),
    )


async def twilio_after_stream(request: Request, ctx: GatewayContext) -> Response:
    """The `<Connect>`'s action: the stream has ended. A call no runner took is told the
    lines are busy; every other call is hung up."""
    account, params = await _signed_twilio(ctx, request)
    record = await ctx.store.by_idempotency_key(account.tenant, _call_key(params["CallSid"]))
    if (
        record is not None
        and record.status is SessionStatus.FAILED
        and (record.reason or "").startswith(NO_CAPACITY)
    ):
        return twiml.busy()
    return twiml.hang_up()
