"""A request body must arrive within a deadline, or the request is answered 408.

uvicorn (and so functions-framework's ASGI mode) sets no timeout on reading a body: a client
that declares a Content-Length and sends less, or drips it a byte at a time, keeps its
request (a coroutine, a socket, a file descriptor) alive for as long as it likes. The probe
held gateway, admin and Mesh requests open for its own 20 s timeout; many such clients would
run the process out of descriptors. So reading a body gets one deadline for all of it, and
the 408 closes the connection rather than wait on it for the rest.

The functions read bodies in one place (`functions.http.body`); Mesh goes through Ariadne,
so it gets the ASGI middleware below, which bounds the same reads on its `receive`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicefleet.http_errors import error_response

# A whole body (256 KiB for the functions, 8 MiB for Mesh) in this long is ~1 Mbit/s at worst.
BODY_TIMEOUT_S = 10.0
CLOSE = {"Connection": "close"}


class BodyTimeout(Exception):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"request body not received within {timeout_s:g}s")


async def within_deadline(
    chunks: AsyncIterator[bytes], timeout_s: float | None = None
) -> AsyncIterator[bytes]:
    """The chunks, as long as the last of them arrives within `timeout_s` of the first ask."""
    timeout_s = BODY_TIMEOUT_S if timeout_s is None else timeout_s
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise BodyTimeout(timeout_s) from exc
        yield chunk


class BodyDeadline:
    """ASGI middleware: `http.request` messages past the deadline end the request with 408."""

    def __init__(
        self,
        app: ASGIApp,
        timeout_s: float | None = None,
        respond: Callable[[str], Response] | None = None,
    ) -> None:
        self._app = app
        self._timeout_s = timeout_s
        self._respond = respond or _error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        timeout_s = BODY_TIMEOUT_S if self._timeout_s is None else self._timeout_s
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, body_done
            if body_done:  # after the body: waiting for a disconnect is not bounded here
                return await receive()
            deadline = deadline or loop.time() + timeout_s
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError as exc:
                raise BodyTimeout(timeout_s) from exc
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, timed_receive, tracked_send)
        except BodyTimeout as exc:
            if started:
                raise
            response = self._respond(str(exc))
            response.headers.update(CLOSE)
            await response(scope, receive, send)


def _error(message: str) -> Response:
    return error_response(408, message)
