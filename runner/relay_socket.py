"""The runner's end of a phone call's media path, shaped as the WebSocket Pipecat's WebSocket
transport takes, so that its transport and the provider's serializer run unchanged.

The provider's socket ends at the gateway, which relays its messages through Redis
(voicefleet/media_relay.py); this object reads them as `receive()` messages and writes the
bot's through `send_text`. `close()` ends the call (the gateway then closes the provider's
socket, which hangs up); the gateway's end marker (the caller hung up) reads as a disconnect.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocketState

from voicefleet.media_relay import MediaEnd, MediaStream

BOT_ENDED = "the bot ended the call"
# How long one read waits on Redis; a closed socket is noticed within it.
_READ_S = 1.0


class RelaySocket:
    def __init__(
        self,
        inbound: MediaStream,
        outbound: MediaStream,
        *,
        on_hang_up: Callable[[str], None] | None = None,
    ) -> None:
        self._inbound = inbound
        self._outbound = outbound
        self._on_hang_up = on_hang_up
        self._pending: deque[str] = deque()
        self.headers: dict[str, str] = {}
        self.client_state = WebSocketState.CONNECTED
        self.application_state = WebSocketState.CONNECTED
        self.hang_up_reason: str | None = None

    async def wait_for_start(self) -> dict[str, Any]:
        """The provider's `start` message (stream and call ids, parameters, media format);
        what came before it is dropped, what came after it is kept for `receive`."""
        while True:
            text = await self._next()
            if text is None:
                raise ConnectionError(self.hang_up_reason or "the media stream ended")
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("event") == "start":
                return message

    async def _next(self) -> str | None:
        while not self._pending:
            if self.client_state is WebSocketState.DISCONNECTED:
                return None
            for item in await self._inbound.receive(_READ_S):
                if isinstance(item, MediaEnd):
                    self._hung_up(item.reason)
                    break
                self._pending.append(item)
        return self._pending.popleft()

    def _hung_up(self, reason: str) -> None:
        if self.client_state is WebSocketState.DISCONNECTED:
            return
        self.client_state = WebSocketState.DISCONNECTED
        self.hang_up_reason = reason
        if self._on_hang_up is not None:
            self._on_hang_up(reason)

    # What Pipecat's FastAPIWebsocketTransport uses of a Starlette WebSocket -----------------

    async def receive(self) -> dict[str, Any]:
        text = await self._next()
        if text is None:
            return {"type": "websocket.disconnect", "code": 1000}
        return {"type": "websocket.receive", "text": text}

    async def send_text(self, data: str) -> None:
        await self._outbound.send(data)

    async def send_bytes(self, data: bytes) -> None:
        await self._outbound.send(data.decode("utf-8"))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        self.application_state = WebSocketState.DISCONNECTED
        if self.client_state is WebSocketState.CONNECTED:
            self.client_state = WebSocketState.DISCONNECTED
            await self._outbound.end(reason or BOT_ENDED)
