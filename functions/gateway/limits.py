"""Per-tenant launch limits: concurrent sessions and launches per minute, decided in Redis.

Without them a burst from one tenant queues behind a full pool for minutes and crowds out
every other tenant. Like Pipecat Cloud at a deployment's maximum, the gateway answers 429
with Retry-After instead. The check and the reservation are one Lua script, so concurrent
launches cannot overshoot a limit, and every gateway replica counts the same sessions.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from redis.asyncio import Redis

from voicefleet.contracts import Keys

# A session limit cannot know when a session ends: this is how soon trying again is sensible.
SESSIONS_RETRY_AFTER_S = 5

# KEYS: the tenant's sessions, the tenant's launches. ARGV: session id, now, max sessions
# (0: none), launches per minute (0: none), the session hash prefix (session records are read
# by id, so this needs a single Redis, not a cluster, as the rest of voicefleet does).
# Returns {1} admitted, or {0, 'sessions' | 'launches', count, retry after seconds}.
_ADMIT = """
local now = tonumber(ARGV[2])
local max_sessions, per_minute = tonumber(ARGV[3]), tonumber(ARGV[4])
if max_sessions > 0 then
  local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local id, admitted = members[i], tonumber(members[i + 1])
    local status = redis.call('HGET', ARGV[5] .. id, 'status')
    -- No record yet is a launch admitted a moment ago and being made; one still without a
    -- record after a minute was never made (its gateway died in between).
    if status == 'ended' or status == 'failed' or (not status and admitted < now - 60) then
      redis.call('ZREM', KEYS[1], id)
    end
  end
  local active = redis.call('ZCARD', KEYS[1])
  if active >= max_sessions then return {0, 'sessions', active, 0} end
end
if per_minute > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
  local recent = redis.call('ZCARD', KEYS[2])
  if recent >= per_minute then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, 'launches', recent, tostring(tonumber(oldest[2]) + 60 - now)}
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('EXPIRE', KEYS[2], 120)
return {1}
"""


class TenantLimits(BaseModel):
    """0 means no limit."""

    model_config = ConfigDict(extra="forbid")

    max_sessions: int = Field(default=0, ge=0)
    launches_per_minute: int = Field(default=0, ge=0)


_OVERRIDES = TypeAdapter(dict[str, TenantLimits])


def parse_overrides(raw: str) -> dict[str, TenantLimits]:
    """`{"acme": {"max_sessions": 10, "launches_per_minute": 60}}` (VOICEFLEET_TENANT_LIMITS)."""
    return _OVERRIDES.validate_python(json.loads(raw or "{}"))


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after_s: int


class LaunchLimiter:
    def __init__(
        self, redis: Redis, default: TenantLimits, overrides: dict[str, TenantLimits]
    ) -> None:
        self._redis = redis
        self._default = default
        self._overrides = overrides
        self._admit = redis.register_script(_ADMIT)

    def limits_for(self, tenant: str) -> TenantLimits:
        return self._overrides.get(tenant, self._default)

    async def admit(self, tenant: str, session_id: str) -> Refusal | None:
        """Count the launch against the tenant's limits, or say why it may not start now."""
        limits = self.limits_for(tenant)
        if not limits.max_sessions and not limits.launches_per_minute:
            return None
        result = await self._admit(
            keys=[Keys.tenant_sessions(tenant), Keys.tenant_launches(tenant)],
            args=[
                session_id,
                time.time(),
                limits.max_sessions,
                limits.launches_per_minute,
                Keys.session(""),
            ],
        )
        if int(result[0]) == 1:
            return None
        if result[1] == "sessions":
            return Refusal(
                f"tenant {tenant!r} has {result[2]} active sessions, its limit "
                f"({limits.max_sessions}); retry when one ends",
                SESSIONS_RETRY_AFTER_S,
            )
        return Refusal(
            f"tenant {tenant!r} started {result[2]} sessions in the last minute, its limit "
            f"({limits.launches_per_minute} a minute)",
            max(1, math.ceil(float(result[3]))),
        )

    async def release(self, tenant: str, session_id: str) -> None:
        """Give back an admission whose session was not made (a duplicate, a failed send)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(Keys.tenant_sessions(tenant), session_id)
        pipe.zrem(Keys.tenant_launches(tenant), session_id)
        await pipe.execute()
