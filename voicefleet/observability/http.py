"""HTTP requests observed from the outside of each app, and the `/metrics` endpoint.

Wrapping the app (an ASGI middleware for the runner, a wrapper around the functions' router,
whose framework gives no middleware hook) times every route in one place, instead of a line
in each handler. The route label is the matched template (`/sessions/{session_id}`), never the
path, so label values stay a fixed set; requests that matched nothing are `unmatched`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection

from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicefleet.authorization import bearer_is
from voicefleet.http_errors import error_response
from voicefleet.observability import tracing
from voicefleet.observability.metrics import HTTP_REQUESTS

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The template of the route Starlette (or the functions' router) matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def record(service: str, scope: Scope, status: int, started: float) -> None:
    HTTP_REQUESTS.labels(
        service=service,
        route=route_template(scope),
        method=str(scope.get("method", "")),
        status=str(status),
    ).observe(time.perf_counter() - started)


def metrics_endpoint(
    token: str | None, exposition: Callable[[Request], Awaitable[bytes]] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics` in Prometheus' text format; with a token, for its bearer only.

    What it exposes is this process's registry, or what `exposition` gathers (a runner pod's
    is its slots' metrics merged).
    """

    async def metrics(request: Request) -> Response:
        if token is not None:
            if not bearer_is(request.headers.getlist("authorization"), token):
                return error_response(401, "metrics need Authorization: Bearer <token>")
        body = generate_latest(REGISTRY) if exposition is None else await exposition(request)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics


class ObservedApp:
    """ASGI middleware: every HTTP request timed by route and status.

    Routes in `untimed` are counted by other metrics: the runner's launch route is held open
    for a whole session, which would only stretch a latency histogram.
    """

    def __init__(self, app: ASGIApp, service: str, *, untimed: Collection[str] = ()) -> None:
        self._app = app
        self._service = service
        self._untimed = frozenset(untimed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, send_status)
        finally:
            if route_template(scope) not in self._untimed:
                record(self._service, scope, status, started)


async def observed(
    service: str, request: Request, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The functions' equivalent of `ObservedApp`, around their router; also the request's
    server span, continuing the caller's trace when it sent a `traceparent`."""
    started = time.perf_counter()
    status = 500
    request.scope.pop("route", None)  # functions-framework's catch-all; the router sets ours
    with tracing.tracer().start_as_current_span(
        request.method,
        context=tracing.context_from(request.headers),
        kind=trace.SpanKind.SERVER,
        attributes={"voicefleet.service": service, "http.request.method": request.method},
    ) as span:
        try:
            response = await handler(request)
            status = response.status_code
            return response
        finally:
            record(service, request.scope, status, started)
            route = route_template(request.scope)
            span.update_name(f"{request.method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.StatusCode.ERROR)
