"""One-time, short-lived tokens that let a provider's media stream into one call's session.

The webhook answer carries the token as a stream parameter, which the provider sends back in
the stream's `start` message; the token is bound to the call it was issued for. Redis keeps
only its SHA-256 (a dump of Redis reveals no usable token), and taking it is a `GETDEL`, so a
second use, even a concurrent one, finds nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from redis.asyncio import Redis

from voicefleet.contracts import Keys

# Twilio opens the stream as soon as it has read the answer: a token is never needed later.
TOKEN_TTL_S = 30


def _key(token: str) -> str:
    return Keys.stream_token(hashlib.sha256(token.encode()).hexdigest())


class StreamTokens:
    def __init__(self, redis: Redis, *, ttl_s: int = TOKEN_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    async def issue(self, session_id: str, call_id: str, *, ttl_s: int | None = None) -> str:
        token = secrets.token_urlsafe(32)
        value = json.dumps({"session_id": session_id, "call_id": call_id})
        await self._redis.set(_key(token), value, ex=ttl_s or self._ttl_s)
        return token

    async def bind(self, token: str, session_id: str, call_id: str) -> None:
        """Bind an issued token to its call once the call's id is known (an outbound call's
        id comes back from the provider after the answer that carries the token was sent);
        a token already used or expired stays so."""
        value = json.dumps({"session_id": session_id, "call_id": call_id})
        await self._redis.set(_key(token), value, xx=True, keepttl=True)

    async def redeem(self, token: str, call_id: str) -> str | None:
        """The session the token opens, once; None if unknown, used, expired or not for this
        call (the token is spent either way)."""
        if not token or len(token) > 200:
            return None
        raw = await self._redis.getdel(_key(token))
        if raw is None:
            return None
        issued = json.loads(raw)
        if not secrets.compare_digest(str(issued["call_id"]), call_id):
            return None
        return str(issued["session_id"])
