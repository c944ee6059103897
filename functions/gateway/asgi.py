"""The gateway as one ASGI app: the function's HTTP routes (functions-framework) and the
phone calls' media streams (WebSockets, which a functions-framework function cannot take).

Knative runs it with `uvicorn functions.gateway.asgi:app`; the dev stack serves the same.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from functions import asgi_app
from functions.gateway.media_stream import telnyx_stream, twilio_stream
from functions.gateway.routes.telephony import TELNYX_STREAM_PATH, TWILIO_STREAM_PATH

media_streams = Starlette(
    routes=[
        WebSocketRoute(TWILIO_STREAM_PATH, twilio_stream),
        WebSocketRoute(TELNYX_STREAM_PATH, telnyx_stream),
    ]
)


def with_media_streams(http: ASGIApp) -> ASGIApp:
    """`http` for HTTP requests (and lifespan), the media streams for WebSockets."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await media_streams(scope, receive, send)
        else:
            await http(scope, receive, send)

    return app


def create_app() -> Any:
    return with_media_streams(asgi_app("gateway"))
