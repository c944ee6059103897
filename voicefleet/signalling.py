"""Relays a session's signalling (SDP offers, ICE candidates, hang-up) through Redis.

The gateway that receives a client's offer is not the process that runs the bot: the runner
that claimed the session is somewhere behind the broker. So the gateway pushes the request to
the session's inbox list and blocks on a per-request reply list; the runner pops, answers and
pushes the reply. Lists (not pub/sub) mean an offer that arrives before the runner has claimed
the session waits for it instead of being lost.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from voicefleet.contracts import Keys

_INBOX_TTL_S = 3600
_REPLY_TTL_S = 60


class SignallingTimeout(Exception):
    """No runner answered in time (none claimed the session, or it is stuck)."""


class SignalMessage(BaseModel):
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: Literal["offer", "ice", "end"]
    payload: dict[str, Any] = Field(default_factory=dict)


class SignalReply(BaseModel):
    ok: bool
    status: int = 200
    data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class SignallingRelay:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    # gateway side ------------------------------------------------------------------------

    async def send(self, session_id: str, message: SignalMessage) -> None:
        """Deliver without waiting for a reply (hang-up)."""
        inbox = Keys.session_inbox(session_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(inbox, message.model_dump_json())
        pipe.expire(inbox, _INBOX_TTL_S)
        await pipe.execute()

    async def request(
        self, session_id: str, message: SignalMessage, *, timeout_s: float
    ) -> SignalReply:
        await self.send(session_id, message)
        reply_key = Keys.session_reply(session_id, message.request_id)
        popped = await self._redis.blpop([reply_key], timeout=timeout_s)
        if popped is None:
            # Take the request back if nobody picked it up, so a late runner does not answer
            # an offer whose client has already given up.
            await self._redis.lrem(Keys.session_inbox(session_id), 1, message.model_dump_json())
            raise SignallingTimeout(f"no runner answered within {timeout_s:g}s")
        return SignalReply.model_validate_json(popped[1])

    # runner side -------------------------------------------------------------------------

    async def receive(self, session_id: str, *, timeout_s: float) -> SignalMessage | None:
        popped = await self._redis.blpop([Keys.session_inbox(session_id)], timeout=timeout_s)
        if popped is None:
            return None
        return SignalMessage.model_validate(json.loads(popped[1]))

    async def reply(self, session_id: str, request_id: str, reply: SignalReply) -> None:
        key = Keys.session_reply(session_id, request_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(key, reply.model_dump_json())
        pipe.expire(key, _REPLY_TTL_S)
        await pipe.execute()
