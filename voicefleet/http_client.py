"""The HTTP client every service uses to call another, configured for low latency once.

Without TCP_NODELAY a request whose headers and body go out in separate writes can wait
for the peer's delayed ACK (40 ms on Linux) on a reused connection: measured here as a
50 ms `POST /start` instead of 5 ms.

A capped client also admits at most `max_connections` requests into httpcore's pool at a
time; the rest wait their turn on a semaphore. httpcore 1.0 rescans every queued request
against every connection whenever one is freed (encode/httpcore#1035), so a burst of 1000
launches queued inside a 100-connection pool spent more time assigning connections than
sending: 7 of 13 s in a profile of 300 concurrent launches. Idle connections are kept up to
the cap, so a burst does not close and reopen them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx

_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class _Released(httpx.AsyncByteStream):
    """A response body that gives back its admission once it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, slot: asyncio.Semaphore) -> None:
        self._stream = stream
        self._slot: asyncio.Semaphore | None = slot

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._slot is not None:
                self._slot.release()
                self._slot = None


class _Admitting(httpx.AsyncBaseTransport):
    def __init__(self, transport: httpx.AsyncBaseTransport, limit: int) -> None:
        self._transport = transport
        self._slots = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Waiting here is waiting for a connection, so the request's pool timeout bounds it.
        wait = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no connection free in time", request=request) from exc
        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Released(response.stream, self._slots)
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


def async_client(
    *, timeout: httpx.Timeout | float | None = 10.0, max_connections: int | None = 100, **kw: Any
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=None)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(
        socket_options=_NODELAY, limits=limits
    )
    if max_connections is not None:
        transport = _Admitting(transport, max_connections)
    return httpx.AsyncClient(transport=transport, timeout=timeout, **kw)
