"""The gateway function.

Served by `functions-framework --target gateway --source functions/gateway/main.py --asgi`.

functions-framework routes every path to one HTTP function, so the function dispatches on
method and path itself with Starlette's route matching.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import functions_framework.aio
from loguru import logger
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from functions.gateway import routes
from functions.gateway.context import GatewayContext, get_context
from functions.gateway.errors import ApiError

Handler = Callable[[Request, GatewayContext], Awaitable[Response]]


def _route(path: str, handler: Handler, methods: list[str]) -> Route:
    return Route(path, endpoint=handler, methods=methods)


ROUTES = [
    _route("/healthz", routes.healthz, ["GET"]),
    _route("/", routes.root, ["POST"]),
    _route("/join", routes.join, ["POST"]),
    _route("/start", routes.start, ["POST"]),
    _route("/api/offer", routes.direct_offer, ["POST", "PATCH"]),
    _route("/sessions/{session_id}/api/offer", routes.session_offer, ["POST", "PATCH"]),
    _route("/sessions/{session_id}", routes.get_session, ["GET"]),
    _route("/sessions/{session_id}", routes.delete_session, ["DELETE"]),
    _route("/deadletter", routes.dead_letter, ["POST"]),
]


async def dispatch(request: Request) -> Response:
    allowed: list[str] = []
    for route in ROUTES:
        match, child = route.matches(request.scope)
        if match is Match.FULL:
            request.scope.update(child)
            handler: Handler = route.endpoint  # type: ignore[assignment]
            return await handler(request, get_context())
        if match is Match.PARTIAL and route.methods:
            allowed += sorted(route.methods)
    if allowed:
        raise ApiError(405, f"method {request.method} not allowed here; use {', '.join(allowed)}")
    raise ApiError(404, f"no such endpoint: {request.method} {request.url.path}")


@functions_framework.aio.http
async def gateway(request: Request) -> Response:
    try:
        return await dispatch(request)
    except ApiError as exc:
        return exc.response()
    except Exception:  # noqa: BLE001 - last line of defence: a 500 without internals
        logger.exception("unhandled error on {} {}", request.method, request.url.path)
        return JSONResponse({"error": {"message": "internal error"}}, status_code=500)
