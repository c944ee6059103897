"""The gateway's part of a WebRTC call, alone: relay the client's offer to the runner holding
the session, so a benchmark can call a runner it started by itself (no gateway, no broker)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voicefleet.redis_conn import connect
from voicefleet.signalling import SignallingRelay, SignalMessage


def offer_shim(redis_url: str, session: dict[str, str]) -> Starlette:
    """`POST /api/offer` for the session whose id is `session["id"]` at the time. (It serves
    from a thread of its own, so it keeps a Redis client of its own.)"""

    async def offer(request: Request) -> JSONResponse:
        data = await request.json()
        message = SignalMessage(kind="offer", payload={"sdp": data["sdp"], "type": data["type"]})
        redis = connect(redis_url)
        try:
            reply = await SignallingRelay(redis).request(session["id"], message, timeout_s=60)
        finally:
            await redis.aclose()
        return JSONResponse(reply.data, status_code=reply.status)

    return Starlette(routes=[Route("/api/offer", offer, methods=["POST"])])
