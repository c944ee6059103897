"""The transport of a phone call: Pipecat's WebSocket transport with the provider's serializer
(8 kHz μ-law in and out, DTMF in, `clear` on barge-in).

The socket is whatever carries the provider's messages to this process (the runner's relay
over Redis, runner/relay_socket.py); the provider's `start` message names the stream. The
serializers' own hang-up (a REST call to the provider on the pipeline's end) is off: the call
ends when the stream closes, which the gateway does when the bot is done.
"""

from __future__ import annotations

from typing import Any, cast

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from starlette.websockets import WebSocket

from bot.transports import SessionTransport
from voicefleet.contracts import TransportKind


def serializer_for(kind: TransportKind, start: dict[str, Any]) -> FrameSerializer:
    """The provider's serializer for the stream its `start` message describes."""
    if kind is TransportKind.TWILIO:
        meta = start.get("start") or {}
        return TwilioFrameSerializer(
            stream_sid=str(start.get("streamSid") or meta.get("streamSid") or ""),
            call_sid=meta.get("callSid"),
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
    if kind is TransportKind.TELNYX:
        meta = start.get("start") or {}
        encoding = str((meta.get("media_format") or {}).get("encoding") or "PCMU")
        return TelnyxFrameSerializer(
            stream_id=str(start.get("stream_id") or ""),
            outbound_encoding=encoding,
            inbound_encoding=encoding,
            call_control_id=meta.get("call_control_id"),
            params=TelnyxFrameSerializer.InputParams(auto_hang_up=False),
        )
    raise ValueError(f"{kind.value} is not a phone transport")


def phone_transport(
    socket: Any, kind: TransportKind, start: dict[str, Any], *, sample_rate: int
) -> SessionTransport:
    transport = FastAPIWebsocketTransport(
        websocket=cast(WebSocket, socket),
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_out_sample_rate=sample_rate,
            add_wav_header=False,
            serializer=serializer_for(kind, start),
            allowed_origins=[],  # the socket is the runner's own, not a browser's
        ),
    )
    return SessionTransport(transport, kind, ("on_client_connected",), ("on_client_disconnected",))
