"""A phone call's media path between the gateway and the runner holding the call: two Redis
streams per session, one each way (`Keys.media_in`, `Keys.media_out`).

The provider's WebSocket ends at the gateway; its messages go on unchanged, in order, and the
runner's answers come back the same way. A stream rather than pub/sub: what the caller says
before a runner has claimed the call (a cold start) waits for it instead of being lost, and a
runner that holds several calls reads only its own. Either side ends the path by adding an
end marker with the reason, which the other side reads after everything sent before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

# Enough for a minute of audio at 50 messages a second (Twilio sends one every 20 ms): a call
# that waits longer for a runner loses its oldest audio, never the gateway's memory.
STREAM_MAX_MESSAGES = 3000
# A stream outlives its call by at most this long (each message renews it).
STREAM_TTL_S = 3600

_MESSAGE = "m"
_END = "end"


@dataclass(frozen=True)
class MediaEnd:
    """The other side has ended the call; `reason` says why (e.g. `caller hung up`)."""

    reason: str


Received = str | MediaEnd


class MediaStream:
    """One direction of one call's media path: `send` on one side, `receive` on the other.

    The receiving side needs a Redis client without a read timeout (`connect(blocking=True)`),
    as `receive` waits on the server for up to `timeout_s`.
    """

    def __init__(self, redis: Redis, key: str) -> None:
        self._redis = redis
        self.key = key
        self._last_id = "0-0"

    async def send(self, message: str) -> None:
        await self._add({_MESSAGE: message})

    async def end(self, reason: str) -> None:
        await self._add({_END: reason})

    async def _add(self, fields: dict[str, str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self.key, fields, maxlen=STREAM_MAX_MESSAGES, approximate=True)  # type: ignore[arg-type]
            pipe.expire(self.key, STREAM_TTL_S)
            await pipe.execute()

    async def receive(self, timeout_s: float) -> list[Received]:
        """What arrived since the last call, in order; empty if nothing came within timeout_s."""
        block_ms = max(int(timeout_s * 1000), 1)
        answer: Any = await self._redis.xread({self.key: self._last_id}, count=200, block=block_ms)
        received: list[Received] = []
        for _key, entries in answer or []:
            for entry_id, fields in entries:
                self._last_id = entry_id
                if _END in fields:
                    received.append(MediaEnd(fields[_END]))
                elif _MESSAGE in fields:
                    received.append(fields[_MESSAGE])
        return received

    async def delete(self) -> None:
        await self._redis.delete(self.key)
