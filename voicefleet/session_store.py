"""Session records and the runner's claim, all atomic in Redis.

Each operation that must not interleave with another (claim, final status) is one Lua script,
so retried launches cannot make two bots. Launches through the gateway store their record with
their admission (functions/gateway/admission.py), which settles the Idempotency-Key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from voicefleet.contracts import Keys, SessionRecord, SessionStatus
from voicefleet.redis_conn import hash_fields

# Lua the scripts that fail a session share: a session failed for `reason` at `now`.
_FAIL = """
local function fail(key, reason, now)
  redis.call('HSET', key, 'status', 'failed', 'reason', reason, 'ended_at', now, 'updated_at', now)
end
"""


# KEYS: session hash, session lease, room lease (or ""), active set, queued set.
# ARGV: runner id, lease ms, now, queued-before (a queued session created earlier waited too
# long), the reason to record then, session id.
# ARGV[7] is the reason to record when a runner had started the session and lost its lease
# (it died): the retried launch that follows must not put a second bot in its room.
# Returns 'claimed', or why not: 'missing', 'final', 'expired', 'lost', 'held', 'room-busy'.
_CLAIM = (
    _FAIL
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'ended' or status == 'failed' then return 'final' end
if status == 'queued'
   and tonumber(redis.call('HGET', KEYS[1], 'created_at')) < tonumber(ARGV[4]) then
  fail(KEYS[1], ARGV[5], ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[6])
  redis.call('ZREM', KEYS[5], ARGV[6])
  return 'expired'
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 'held' end
if not holder and status ~= 'queued' then
  fail(KEYS[1], ARGV[7], ARGV[3])
  redis.call('ZREM', KEYS[4], ARGV[6])
  redis.call('ZREM', KEYS[5], ARGV[6])
  return 'lost'
end
if KEYS[3] ~= '' then
  local room = redis.call('GET', KEYS[3])
  if room and room ~= KEYS[1] then return 'room-busy' end
  redis.call('SET', KEYS[3], KEYS[1], 'PX', ARGV[2])
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'starting', 'runner', ARGV[1],
           'started_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('ZREM', KEYS[5], ARGV[6])
return 'claimed'
"""
)

# KEYS: session lease, room lease (or ""). ARGV: runner id, lease ms. 1 if still ours.
_HEARTBEAT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[2] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
"""

# KEYS: session hash. ARGV: now. 1 if marked; a final or missing session is left alone, so a
# late "joined" neither revives an ended session nor leaves a half record behind.
_JOINED = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'ended' or status == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'joined', 'joined_at', ARGV[1], 'updated_at', ARGV[1])
return 1
"""

# KEYS: session hash, session lease, room lease (or ""), active set, queued set.
# ARGV: status, reason, now, session id. Never overwrites a final status.
_FINISH = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status == 'ended' or status == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[3], 'updated_at', ARGV[3])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[2]) end
redis.call('DEL', KEYS[2])
if KEYS[3] ~= '' then
  if redis.call('GET', KEYS[3]) == KEYS[1] then redis.call('DEL', KEYS[3]) end
end
redis.call('ZREM', KEYS[4], ARGV[4])
redis.call('ZREM', KEYS[5], ARGV[4])
return 1
"""


# KEYS: session hashes. ARGV: queued-before, reason, now, then the sessions' ids in order.
# Fails each session still queued that was created before `queued-before`; returns the ids.
_EXPIRE_QUEUED = (
    _FAIL
    + """
local expired = {}
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'status') == 'queued'
     and tonumber(redis.call('HGET', key, 'created_at')) < tonumber(ARGV[1]) then
    fail(key, ARGV[2], ARGV[3])
    table.insert(expired, ARGV[3 + i])
  end
end
return expired
"""
)


RUNNER_LOST = "runner lost: its lease expired mid-session (the runner died)"

# KEYS: session hashes, then their leases, in the same order. ARGV: reason, now, then the ids.
# Fails each session a runner had started whose lease is gone; returns the ids.
_EXPIRE_LOST = (
    _FAIL
    + """
local n = #KEYS / 2
local lost = {}
for i = 1, n do
  local status = redis.call('HGET', KEYS[i], 'status')
  if (status == 'starting' or status == 'joined') and redis.call('EXISTS', KEYS[n + i]) == 0 then
    fail(KEYS[i], ARGV[1], ARGV[2])
    table.insert(lost, ARGV[2 + i])
  end
end
return lost
"""
)


# How the reason of a session no runner started begins (a phone caller hears "lines busy").
NO_CAPACITY = "no capacity"


def no_capacity(queue_timeout_s: float) -> str:
    """The reason a session records when no runner started it in time."""
    return f"{NO_CAPACITY}: no runner started the session within {queue_timeout_s:g}s"


# KEYS: session hash. ARGV: field/value pairs. Only an existing record is annotated, so a
# late timing never leaves a half record behind an expired one.
_ANNOTATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# ARGV: the new call status, then each known status and its rank. A status is kept only if it
# ranks above the one recorded: a callback that arrives late never undoes a later one.
_ADVANCE_CALL_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ranks = {}
for i = 2, #ARGV, 2 do ranks[ARGV[i]] = tonumber(ARGV[i + 1]) end
local new = ranks[ARGV[1]]
if new == nil then return 0 end
local current = redis.call('HGET', KEYS[1], 'call_status')
if current and ranks[current] and ranks[current] >= new then return 0 end
redis.call('HSET', KEYS[1], 'call_status', ARGV[1])
return 1
"""


# A placed call's steps in order; the ends share the last rank, so the first end recorded stays.
CALL_STATUS_RANKS = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    **dict.fromkeys(("completed", "busy", "no-answer", "failed", "canceled"), 4),
}


def _session_keys(session_id: str, room_url: str | None) -> list[str]:
    """KEYS of the scripts that take or end a session (_CLAIM, _FINISH): its hash, its lease,
    its room's lease (or ""), the active and queued sets."""
    return [
        Keys.session(session_id),
        Keys.session_lease(session_id),
        Keys.room_lease(room_url) if room_url else "",
        Keys.ACTIVE_SESSIONS,
        Keys.QUEUED_SESSIONS,
    ]


@dataclass(frozen=True)
class ClaimResult:
    claimed: bool
    reason: str  # 'claimed' or why the claim was refused


class SessionStore:
    """Reads and writes `session:{id}`; the only code that knows the record's Redis layout."""

    def __init__(self, redis: Redis, *, record_ttl_s: int = 7 * 24 * 3600) -> None:
        self._redis = redis
        self._ttl = record_ttl_s
        self._claim = redis.register_script(_CLAIM)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._joined = redis.register_script(_JOINED)
        self._finish = redis.register_script(_FINISH)
        self._expire_queued = redis.register_script(_EXPIRE_QUEUED)
        self._annotate = redis.register_script(_ANNOTATE)
        self._advance_call_status = redis.register_script(_ADVANCE_CALL_STATUS)
        self._expire_lost = redis.register_script(_EXPIRE_LOST)

    async def create(
        self,
        record: SessionRecord,
        *,
        secret: str | None = None,
        client_token: str | None = None,
    ) -> None:
        """Store a new record, in one transaction with its place in the active sets.

        Launches through the gateway are stored with their admission instead
        (functions/gateway/admission.py), which settles the Idempotency-Key in the same step.
        """
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(Keys.session(record.session_id), items=hash_fields(record.to_redis()))
        pipe.expire(Keys.session(record.session_id), self._ttl)
        pipe.zadd(Keys.ACTIVE_SESSIONS, {record.session_id: record.created_at})
        if record.status is SessionStatus.QUEUED:
            pipe.zadd(Keys.QUEUED_SESSIONS, {record.session_id: record.created_at})
        if secret:
            pipe.set(Keys.session_secret(record.session_id), secret, ex=self._ttl)
        if client_token:
            pipe.set(Keys.session_client_token(record.session_id), client_token, ex=self._ttl)
        await pipe.execute()

    async def attach_room(
        self, session_id: str, room_url: str, secret: str, client_token: str
    ) -> None:
        """The room made for a queued session after its launch was settled, before it is sent."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(Keys.session(session_id), "room_url", room_url)
        pipe.set(Keys.session_secret(session_id), secret, ex=self._ttl)
        pipe.set(Keys.session_client_token(session_id), client_token, ex=self._ttl)
        await pipe.execute()

    async def discard(self, session_id: str, *, tenant: str, idempotency_key: str | None) -> None:
        """Undo `create` when the launch could not be sent, so a retry starts afresh."""
        keys = [
            Keys.session(session_id),
            Keys.session_secret(session_id),
            Keys.session_client_token(session_id),
            Keys.session_inbox(session_id),
        ]
        if idempotency_key:
            keys.append(Keys.idempotency(tenant, idempotency_key))
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(*keys)
        pipe.zrem(Keys.ACTIVE_SESSIONS, session_id)
        pipe.zrem(Keys.QUEUED_SESSIONS, session_id)
        await pipe.execute()

    async def expire_lost(self, session_ids: list[str]) -> list[str]:
        """Fail the sessions among these whose runner stopped renewing its lease (it died).

        Nothing else would: a runner killed mid-call records no outcome, so without this the
        session stays `joined` until its record expires.
        """
        if not session_ids:
            return []
        lost: list[str] = await self._expire_lost(
            keys=[
                *(Keys.session(s) for s in session_ids),
                *(Keys.session_lease(s) for s in session_ids),
            ],
            args=[RUNNER_LOST, time.time(), *session_ids],
        )
        if lost:
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrem(Keys.ACTIVE_SESSIONS, *lost)
            pipe.delete(*(Keys.session_secret(s) for s in lost))
            await pipe.execute()
        return lost

    async def expire_all_lost(self, *, batch: int = 500) -> list[str]:
        """`expire_lost` over the oldest active sessions (a gateway's periodic sweep)."""
        ids: list[str] = await self._redis.zrange(Keys.ACTIVE_SESSIONS, 0, batch - 1)  # type: ignore[assignment]
        return await self.expire_lost(ids)

    async def get(self, session_id: str) -> SessionRecord | None:
        raw: dict[str, str] = await self._redis.hgetall(Keys.session(session_id))  # type: ignore[assignment]
        return SessionRecord.from_redis(raw) if raw else None

    async def active(self, tenant: str | None, *, limit: int = 1000) -> list[SessionRecord]:
        """The tenant's sessions that have not ended, oldest first (every tenant's: None)."""
        ids: list[str] = await self._redis.zrange(Keys.ACTIVE_SESSIONS, 0, limit - 1)  # type: ignore[assignment]
        pipe = self._redis.pipeline(transaction=False)
        for session_id in ids:
            pipe.hgetall(Keys.session(session_id))
        records: list[SessionRecord] = []
        gone: list[str] = []
        for session_id, raw in zip(ids, await pipe.execute(), strict=True):
            if not raw:  # the record expired without a final status (its runner died)
                gone.append(session_id)
                continue
            record = SessionRecord.from_redis(raw)
            if tenant in (None, record.tenant) and not record.status.is_final:
                records.append(record)
        if gone:
            await self._redis.zrem(Keys.ACTIVE_SESSIONS, *gone)
        return records

    async def client_token(self, session_id: str) -> str | None:
        value = await self._redis.get(Keys.session_client_token(session_id))
        return str(value) if value is not None else None

    async def secret(self, session_id: str) -> str | None:
        value = await self._redis.get(Keys.session_secret(session_id))
        return str(value) if value is not None else None

    async def claim(
        self,
        session_id: str,
        runner_id: str,
        *,
        room_url: str | None,
        lease_ms: int,
        queue_timeout_s: float | None = None,
    ) -> ClaimResult:
        """Take the session for this runner. A session still queued past `queue_timeout_s`
        is failed instead ('expired'): its client was told nothing could start it."""
        now = time.time()
        queued_before = now - queue_timeout_s if queue_timeout_s else 0
        result = await self._claim(
            keys=_session_keys(session_id, room_url),
            args=[
                runner_id,
                lease_ms,
                now,
                queued_before,
                no_capacity(queue_timeout_s or 0),
                session_id,
                RUNNER_LOST,
            ],
        )
        if result in ("expired", "lost"):
            await self._redis.delete(Keys.session_secret(session_id))
        return ClaimResult(claimed=result == "claimed", reason=str(result))

    async def expire_queued(self, queue_timeout_s: float, *, batch: int = 500) -> list[str]:
        """Fail the sessions that have waited for a runner longer than `queue_timeout_s`.

        A launch that outlives a full pool would otherwise sit `queued` until the broker
        gives up (an hour); its runner, if one ever gets it, refuses it at the claim.
        """
        now = time.time()
        queued_before = now - queue_timeout_s
        ids: list[str] = await self._redis.zrangebyscore(  # type: ignore[assignment]
            Keys.QUEUED_SESSIONS, "-inf", queued_before, start=0, num=batch
        )
        if not ids:
            return []
        expired: list[str] = await self._expire_queued(
            keys=[Keys.session(session_id) for session_id in ids],
            args=[queued_before, no_capacity(queue_timeout_s), now, *ids],
        )
        # Every id looked at is out of the queue: expired now, or no longer queued at all.
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrem(Keys.QUEUED_SESSIONS, *ids)
        if expired:
            pipe.zrem(Keys.ACTIVE_SESSIONS, *expired)
            pipe.delete(*(Keys.session_secret(session_id) for session_id in expired))
        await pipe.execute()
        return expired

    async def heartbeat(
        self, session_id: str, runner_id: str, *, room_url: str | None, lease_ms: int
    ) -> bool:
        """Extend the lease; False means another runner took the session over."""
        ok = await self._heartbeat(
            keys=[
                Keys.session_lease(session_id),
                Keys.room_lease(room_url) if room_url else "",
            ],
            args=[runner_id, lease_ms],
        )
        return bool(ok)

    async def mark_joined(self, session_id: str) -> None:
        """Record that the bot joined, unless the session already ended (or is gone)."""
        await self._joined(keys=[Keys.session(session_id)], args=[time.time()])

    async def annotate(self, session_id: str, **fields: str) -> None:
        """Set fields of an existing record (a phone call's `call_status`)."""
        await self._annotate(keys=[Keys.session(session_id)], args=hash_fields(fields))

    async def advance_call_status(self, session_id: str, status: str) -> bool:
        """Record a phone call's progress (Twilio's CallStatus vocabulary), unless the record
        already holds a later step: providers do not promise their callbacks' order, and a
        late `ringing` must not undo `completed`. False if nothing changed."""
        ranks = [part for name, rank in CALL_STATUS_RANKS.items() for part in (name, str(rank))]
        changed = await self._advance_call_status(
            keys=[Keys.session(session_id)], args=[status, *ranks]
        )
        return bool(changed)

    async def record_timings(self, session_id: str, **fields: float | bool) -> None:
        """Add start-up timings (`SessionRecord.cold_start`, `*_ms`) to the record."""
        values = {
            k: str(v).lower() if isinstance(v, bool) else f"{v:.1f}" for k, v in fields.items()
        }
        await self._annotate(keys=[Keys.session(session_id)], args=hash_fields(values))

    async def finish(
        self,
        session_id: str,
        status: SessionStatus,
        *,
        room_url: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Record a final status once; later calls (a retry, a dead letter) change nothing."""
        if not status.is_final:
            raise ValueError(f"{status} is not a final status")
        changed = await self._finish(
            keys=_session_keys(session_id, room_url),
            args=[status.value, reason or "", time.time(), session_id],
        )
        await self._redis.delete(Keys.session_secret(session_id))
        return bool(changed)
