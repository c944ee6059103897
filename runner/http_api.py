"""The runner's HTTP API, the same whether a slot serves it (runner/service.py) or the pod in
front of its slots (runner/pod.py), which hands each launch to a slot: the broker and the
gateway cannot tell one from the other.

Light on purpose: the pod imports it and must start without the bot's imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def runner_app(
    *,
    launch_event: Endpoint,
    start_json: Endpoint,
    readyz: Endpoint,
    metrics: Endpoint,
    middleware: Sequence[Middleware] = (),
) -> Starlette:
    """`POST /` (a launch CloudEvent), `POST /start` (the seed's JSON), `GET /healthz`,
    `GET /readyz` and `GET /metrics`."""
    return Starlette(
        routes=[
            Route("/", launch_event, methods=["POST"]),
            Route("/start", start_json, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        middleware=middleware,
    )
