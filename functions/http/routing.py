"""Routing inside one HTTP function.

functions-framework hands every path to a single function, so each function matches method
and path itself with Starlette's routes, and turns errors into JSON answers here, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from loguru import logger
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from voicefleet.http_errors import ApiError, error_response

C = TypeVar("C")
Handler = Callable[[Request, C], Awaitable[Response]]


class Router(Generic[C]):
    def __init__(self, get_context: Callable[[], C]) -> None:
        self._get_context = get_context
        self._routes: list[Route] = []

    def add(self, path: str, handler: Handler[C], methods: list[str]) -> None:
        self._routes.append(Route(path, endpoint=handler, methods=methods))

    def served(self) -> list[tuple[str, str]]:
        """(path, method) of every route, in the order added: what the OpenAPI document
        must describe (Starlette's implicit HEAD for a GET aside)."""
        return [
            (route.path, method)
            for route in self._routes
            for method in sorted(route.methods or ())
            if method != "HEAD"
        ]

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except ApiError as exc:
            return exc.response()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis down, restarting or out of connections after the client's own retries:
            # the request may simply be tried again, so say so rather than answer a 500.
            logger.warning("Redis unavailable on {} {}: {}", request.method, request.url.path, exc)
            unavailable = ApiError(503, "session store unavailable; retry", retry_after_s=1)
            return unavailable.response()
        except Exception:  # noqa: BLE001 - last line of defence: a 500 without internals
            logger.exception("unhandled error on {} {}", request.method, request.url.path)
            return error_response(500, "internal error")

    async def _dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for route in self._routes:
            match, child = route.matches(request.scope)
            if match is Match.FULL:
                request.scope["route"] = route  # as Starlette's router does: metrics label by it
                request.scope.update(child)
                handler: Handler[C] = route.endpoint
                return await handler(request, self._get_context())
            if match is Match.PARTIAL and route.methods:
                allowed += sorted(route.methods)
        if allowed:
            raise ApiError(
                405, f"method {request.method} not allowed here; use {', '.join(allowed)}"
            )
        raise ApiError(404, f"no such endpoint: {request.method} {request.url.path}")
