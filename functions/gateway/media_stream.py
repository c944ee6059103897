"""A phone call's media stream: the provider's WebSocket ends here and is relayed, message by
message, to the runner that holds the call (voicefleet/media_relay.py).

The socket proves which call it carries with the one-time token of its `start` message;
nothing is relayed before that, and a socket without a valid token is closed with 1008.
When the caller hangs up (`stop`, or the socket closes) the runner is told `caller hung up`;
when the bot ends the call, or the session ends without one, the socket is closed, and the
provider goes on to the webhook answer's next step (functions/gateway/routes/telephony.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from loguru import logger
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from functions.gateway.context import GatewayContext, context
from functions.gateway.telnyx_rest import decode_state
from voicefleet.contracts import Keys, TransportKind
from voicefleet.media_relay import MediaEnd, MediaStream

CALLER_HUNG_UP = "caller hung up"
POLICY_VIOLATION = 1008
TOO_BIG = 1009
# Twilio sends `connected`, then `start`; a socket that has not sent `start` by then is not one.
_START_WITHIN_S = 10.0
_MESSAGES_BEFORE_START = 3
# A media message is about 300 bytes; anything far larger is not the provider's.
MAX_MESSAGE_BYTES = 64 * 1024
# How often a stream still waiting for its runner checks that its session has not ended.
_SESSION_CHECK_S = 1.0


class NotAStream(Exception):
    """The socket did not open the way the provider's media streams do."""


async def _receive(websocket: WebSocket) -> str | None:
    """The next text message; None when the socket has closed."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    return str(text or "")


async def _read_start(websocket: WebSocket) -> tuple[list[str], dict[str, Any]]:
    """The messages up to and including `start`, and `start` itself, parsed."""
    before: list[str] = []
    async with asyncio.timeout(_START_WITHIN_S):
        while len(before) < _MESSAGES_BEFORE_START:
            text = await _receive(websocket)
            if text is None:
                raise NotAStream("the socket closed before its start message")
            try:
                message = json.loads(text)
            except ValueError as exc:
                raise NotAStream("a message that is not JSON") from exc
            if isinstance(message, dict) and message.get("event") == "start":
                return before, message
            before.append(text)
    raise NotAStream("no start message")


# Where each provider's `start` message keeps the stream parameters and the call's id.
_PARAMETERS = {TransportKind.TWILIO: "customParameters", TransportKind.TELNYX: "custom_parameters"}
_CALL_ID = {TransportKind.TWILIO: "callSid", TransportKind.TELNYX: ""}


def _token_and_call(start: dict[str, Any], transport: TransportKind) -> tuple[str, str]:
    """The stream token and the call it must be bound to. A Telnyx stream a TeXML answer
    opened carries it as a parameter (bound to no call: TeXML's CallSid is not in `start`); one
    a placed call opened (Call Control has no parameters) carries it as the client state,
    bound to the call control id the Dial returned."""
    meta = start.get("start")
    if not isinstance(meta, dict):
        return "", ""
    params = meta.get(_PARAMETERS[transport])
    token = params.get("token", "") if isinstance(params, dict) else ""
    if transport is TransportKind.TELNYX and not token:
        return decode_state(meta.get("client_state")), str(meta.get("call_control_id", ""))
    call_field = _CALL_ID[transport]
    return str(token), str(meta.get(call_field, "")) if call_field else ""


def _without_token(start: dict[str, Any], transport: TransportKind) -> str:
    """The start message as the runner gets it: the spent token stays here."""
    body = dict(start.get("start") or {})
    key = _PARAMETERS[transport]
    params = dict(body.get(key) or {})
    params.pop("token", None)
    body.pop("client_state", None)
    return json.dumps({**start, "start": {**body, key: params}})


async def twilio_stream(websocket: WebSocket) -> None:
    await _stream(websocket, context.get(), TransportKind.TWILIO)


async def telnyx_stream(websocket: WebSocket) -> None:
    await _stream(websocket, context.get(), TransportKind.TELNYX)


async def _stream(websocket: WebSocket, ctx: GatewayContext, transport: TransportKind) -> None:
    await websocket.accept()
    try:
        before, start = await _read_start(websocket)
    except (NotAStream, TimeoutError) as exc:
        await websocket.close(POLICY_VIOLATION, f"not a media stream: {exc}"[:120])
        return
    token, call_id = _token_and_call(start, transport)
    session_id = await ctx.stream_tokens.redeem(token, call_id)
    record = await ctx.store.get(session_id) if session_id else None
    if record is None or record.transport is not transport or record.status.is_final:
        logger.warning("media stream refused: stream token unknown, used or expired")
        await websocket.close(POLICY_VIOLATION, "stream token unknown, used or expired")
        return
    with logger.contextualize(session_id=record.session_id, tenant=record.tenant):
        await _relay(websocket, ctx, record.session_id, [*before, _without_token(start, transport)])


async def _relay(
    websocket: WebSocket, ctx: GatewayContext, session_id: str, opening: list[str]
) -> None:
    inbound = MediaStream(ctx.redis, Keys.media_in(session_id))
    outbound = MediaStream(ctx.blocking_redis, Keys.media_out(session_id))
    for text in opening:
        await inbound.send(text)
    bot_ended = False

    async def caller_to_bot() -> None:
        try:
            while (text := await _receive(websocket)) is not None:
                if len(text) > MAX_MESSAGE_BYTES:
                    await websocket.close(TOO_BIG, "message too large")
                    break
                await inbound.send(text)
                if '"stop"' in text and _event(text) == "stop":
                    break
        except WebSocketDisconnect:
            pass

    async def bot_to_caller() -> None:
        nonlocal bot_ended
        while True:
            batch = await outbound.receive(_SESSION_CHECK_S)
            if not batch:
                record = await ctx.store.get(session_id)
                if record is None or record.status.is_final:
                    bot_ended = True  # ended without a bot (no capacity, an admin's end) or over
                    return
                continue
            for item in batch:
                if isinstance(item, MediaEnd):
                    bot_ended = True
                    return
                await websocket.send_text(item)  # raises once the caller has gone

    tasks = [asyncio.create_task(caller_to_bot()), asyncio.create_task(bot_to_caller())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # However the caller's side ended (`stop`, the socket closed, or a send to it failed
        # first, which cancels the read that would have seen the close), the runner is told:
        # without it the bot talks on to nobody and the session never ends.
        if not bot_ended:
            await inbound.end(CALLER_HUNG_UP)
    if websocket.application_state is WebSocketState.CONNECTED:
        try:
            await websocket.close()
        except (RuntimeError, WebSocketDisconnect):
            pass  # the caller had already closed it


def _event(text: str) -> str | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message.get("event") if isinstance(message, dict) else None
