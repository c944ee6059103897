"""Answers a WebRTC session's signalling (offers, ICE candidates) that the gateway relays.

Pipecat's `SmallWebRTCRequestHandler` does the WebRTC work; this module feeds it the
messages that arrive through Redis and sends its answers back the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException
from loguru import logger
from pipecat.transports.smallwebrtc.request_handler import (
    IceCandidate,
    SmallWebRTCPatchRequest,
    SmallWebRTCRequest,
    SmallWebRTCRequestHandler,
)

from voicefleet.sdp import InvalidOffer, check_offer
from voicefleet.signalling import SignalMessage, SignalReply

OnConnection = Callable[[Any], Awaitable[None]]


async def answer(
    handler: SmallWebRTCRequestHandler, message: SignalMessage, on_connection: OnConnection
) -> SignalReply:
    payload = message.payload
    try:
        if message.kind == "offer":
            # Before the handler: it would answer an offer without audio with an empty answer.
            check_offer(payload["sdp"])
            request = SmallWebRTCRequest(
                sdp=payload["sdp"],
                type=payload["type"],
                pc_id=payload.get("pc_id"),
                restart_pc=payload.get("restart_pc"),
            )
            result = await handler.handle_web_request(request, on_connection)
            return SignalReply(ok=True, data=dict(result or {}))
        patch = SmallWebRTCPatchRequest(
            pc_id=payload["pc_id"],
            candidates=[IceCandidate(**c) for c in payload.get("candidates", [])],
        )
        await handler.handle_patch_request(patch)
        return SignalReply(ok=True)
    except InvalidOffer as exc:
        return SignalReply(ok=False, status=400, error=str(exc))
    except HTTPException as exc:
        return SignalReply(ok=False, status=exc.status_code, error=str(exc.detail))
    except Exception as exc:  # noqa: BLE001 - aiortc raises many kinds on a malformed SDP
        logger.info("refused a {}: {}", message.kind, exc)
        return SignalReply(ok=False, status=400, error=f"invalid {message.kind}: {exc}")
