"""HTTP/1.1 requests written byte by byte, for what well-behaved clients refuse to send."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _read_all(reader: asyncio.StreamReader, received: list[bytes]) -> bytes:
    """Everything until the server closes. A server that closes with our bytes unread
    resets the connection: what it answered before that still counts."""
    try:
        while chunk := await reader.read(65536):
            received.append(chunk)
    except ConnectionResetError:
        if not received:
            raise
    return b"".join(received)


def _parse(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status, headers, body)


async def raw_request(
    base_url: str,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
    *,
    content_length: int | None = None,
    drip: list[bytes] | None = None,
    drip_every_s: float = 0.0,
    wait_s: float = 30.0,
) -> RawResponse:
    """Send the request as given (`content_length` may lie; `drip` is more body sent a piece
    at a time) and read the whole answer, waiting at most `wait_s` for the server to close."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        length = len(body) if content_length is None else content_length
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + url.netloc.encode()]
        lines += [name + b": " + value for name, value in headers]
        lines += [b"Content-Length: " + str(length).encode(), b"Connection: close"]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        received: list[bytes] = []
        answer = asyncio.create_task(asyncio.wait_for(_read_all(reader, received), wait_s))
        for piece in drip or []:
            if received or answer.done():  # the answer has begun: stop sending
                break
            await asyncio.sleep(drip_every_s)
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:
                break
        return _parse(await answer)
    finally:
        writer.close()
