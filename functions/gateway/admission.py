"""Settles a launch in one Redis step: its Idempotency-Key, the tenant's limits, its record.

A duplicate (the same key, or a redelivered CloudEvent) must find the first request's
session before the tenant's limits are consulted, or a client's retry storm fills the
tenant's slots with copies of one launch and refuses its other launches. So the key is
looked up, the limits checked and counted, the key claimed and the record stored in one
Lua script: concurrent duplicates either see the session or make it, never hold a slot.

The key remembers a fingerprint of the request it first came with: the same key with a
different request is a client bug, answered 422 (as the IETF Idempotency-Key draft and
Stripe do) instead of silently returning a session made for something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from functions.gateway.limits import TenantLimits
from functions.http.idempotency import Idempotency
from voicefleet.contracts import Keys, SessionRecord, SessionStatus
from voicefleet.redis_conn import hash_fields

# KEYS: idempotency key (or ''), session hash, the tenant's sessions, the tenant's launches,
# active sessions, queued sessions, session secret, client token.
# ARGV: session id, now, max sessions (0: none), launches per minute (0: none), the session
# hash prefix, the request's fingerprint, ttl, secret (or ''), client token (or ''), then the
# record's field/value pairs. Session records are read by id, so this needs a single Redis,
# not a cluster, as the rest of voicefleet does.
# Returns {'duplicate', '<session id> <fingerprint>'}, {'sessions', count, 0},
# {'launches', count, retry after seconds} or {'created'}.
_SETTLE = """
if KEYS[1] ~= '' then
  local earlier = redis.call('GET', KEYS[1])
  if earlier then return {'duplicate', earlier} end
end
local now = tonumber(ARGV[2])
local max_sessions, per_minute = tonumber(ARGV[3]), tonumber(ARGV[4])
if max_sessions > 0 then
  local members = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local id, admitted = members[i], tonumber(members[i + 1])
    local status = redis.call('HGET', ARGV[5] .. id, 'status')
    -- No record is a session discarded, or admitted by an older gateway that died before
    -- making it (this script makes the record with the admission).
    if status == 'ended' or status == 'failed' or (not status and admitted < now - 60) then
      redis.call('ZREM', KEYS[3], id)
    end
  end
  local active = redis.call('ZCARD', KEYS[3])
  if active >= max_sessions then return {'sessions', active, 0} end
end
if per_minute > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 60)
  local recent = redis.call('ZCARD', KEYS[4])
  if recent >= per_minute then
    local oldest = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    return {'launches', recent, tostring(tonumber(oldest[2]) + 60 - now)}
  end
end
if max_sessions > 0 or per_minute > 0 then
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('EXPIRE', KEYS[3], 86400)
  redis.call('EXPIRE', KEYS[4], 120)
end
if KEYS[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[6], 'EX', ARGV[7])
end
redis.call('HSET', KEYS[2], unpack(ARGV, 10))
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('ZADD', KEYS[5], now, ARGV[1])
redis.call('ZADD', KEYS[6], now, ARGV[1])
if ARGV[8] ~= '' then redis.call('SET', KEYS[7], ARGV[8], 'EX', ARGV[7]) end
if ARGV[9] ~= '' then redis.call('SET', KEYS[8], ARGV[9], 'EX', ARGV[7]) end
return {'created'}
"""


@dataclass(frozen=True)
class Created:
    """The session is made and counted; its launch is this request's to send."""


@dataclass(frozen=True)
class Duplicate:
    """An earlier request holds the key; `fingerprint` is what that request asked for."""

    session_id: str
    fingerprint: str


@dataclass(frozen=True)
class OverLimit:
    """The tenant is at a limit: `kind` is 'sessions' or 'launches'."""

    kind: str
    count: int
    retry_after_s: float


Settled = Created | Duplicate | OverLimit


class Admission:
    def __init__(
        self,
        redis: Redis,
        *,
        default: TenantLimits,
        overrides: dict[str, TenantLimits],
        record_ttl_s: int,
    ) -> None:
        self._redis = redis
        self._default = default
        self._overrides = overrides
        self._ttl = record_ttl_s
        self._settle = redis.register_script(_SETTLE)

    def limits_for(self, tenant: str) -> TenantLimits:
        return self._overrides.get(tenant, self._default)

    async def settle(
        self,
        record: SessionRecord,
        idempotency: Idempotency | None,
        *,
        secret: str | None = None,
        client_token: str | None = None,
    ) -> Settled:
        """Make the queued session, unless its key names an earlier one or a limit refuses."""
        assert record.status is SessionStatus.QUEUED  # a launch's record, counted as queued
        limits = self.limits_for(record.tenant)
        result = await self._settle(
            keys=[
                Keys.idempotency(record.tenant, idempotency.key) if idempotency else "",
                Keys.session(record.session_id),
                Keys.tenant_sessions(record.tenant),
                Keys.tenant_launches(record.tenant),
                Keys.ACTIVE_SESSIONS,
                Keys.QUEUED_SESSIONS,
                Keys.session_secret(record.session_id),
                Keys.session_client_token(record.session_id),
            ],
            args=[
                record.session_id,
                record.created_at,
                limits.max_sessions,
                limits.launches_per_minute,
                Keys.session(""),
                idempotency.fingerprint if idempotency else "",
                self._ttl,
                secret or "",
                client_token or "",
                *hash_fields(record.to_redis()),
            ],
        )
        outcome = str(result[0])
        if outcome == "created":
            return Created()
        if outcome == "duplicate":
            # A key written before fingerprints has none: it matches any request.
            session_id, _, fingerprint = str(result[1]).partition(" ")
            return Duplicate(session_id, fingerprint)
        return OverLimit(outcome, int(result[1]), float(result[2]))

    async def release(self, tenant: str, session_id: str) -> None:
        """Give back the admission of a session that was discarded (its launch not sent)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(Keys.tenant_sessions(tenant), session_id)
        pipe.zrem(Keys.tenant_launches(tenant), session_id)
        await pipe.execute()
