"""How each HTTP function is put together: its router, with the health and metrics routes
every function serves, and the entry point functions-framework calls.

functions-framework finds a function by its `--target` name, both as the main module's
attribute and as the name the decorated function registered under, so the entry point is
named after the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.http.routing import Router
from voicefleet import observability
from voicefleet.observability.http import metrics_endpoint, observed

C = TypeVar("C")


def function_router(service: str, get_context: Callable[[], C]) -> Router[C]:
    """Set up `service`'s logs, metrics and traces; its router, serving `GET /healthz` and
    `GET /metrics` (for the metrics token's bearer, when one is set) so far."""
    settings = observability.setup(service)
    metrics = metrics_endpoint(settings.metrics_token)
    router: Router[C] = Router(get_context)
    router.add("/healthz", _healthz, ["GET"])
    router.add("/metrics", lambda request, _: metrics(request), ["GET"])
    return router


async def _healthz(request: Request, ctx: object) -> Response:
    """Liveness: the process answers; nothing behind it is checked."""
    return JSONResponse({"status": "ok"})


def entry_point(service: str, router: Router[C]) -> functions_framework.aio.HTTPFunction:
    """The function functions-framework serves as `--target <service>`: `router`, observed."""

    async def entry(request: Request) -> Response:
        return await observed(service, request, router)

    entry.__name__ = entry.__qualname__ = service
    return functions_framework.aio.http(entry)
