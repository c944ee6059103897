"""Admin messages for running bots: a queue per session address, exactly once.

The admin function stores each message, appends its id to `admin:queue:{address}` and
publishes the id on `admin:bot:{address}`, all in one script. The channel only wakes the
bot; what it processes comes from the list, taken by one atomic move into a processing list,
so a wake-up seen twice (or a drain racing a wake-up) cannot handle a message twice, and a
message sent while no bot listens waits in the list. A bot that dies holding a message
loses its lease, and the next bot at that address puts the message back in the queue.
"""

from __future__ import annotations

import json
import time
import uuid
from enum import StrEnum
from typing import Any

from loguru import logger
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from voicefleet.contracts import Keys
from voicefleet.redis_conn import hash_fields


class AdminStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AdminMessage(BaseModel):
    """The `admin:message:{id}` hash: what `GET /admin/messages/{id}` shows."""

    id: str
    tenant: str
    address: str
    type: str
    message: dict[str, Any]
    status: AdminStatus
    created_at: float
    expires_at: float
    session_id: str | None = None
    claimed_at: float | None = None
    processed_at: float | None = None
    reason: str | None = None

    def to_redis(self) -> dict[str, str]:
        fields = self.model_dump(mode="json", exclude_none=True)
        fields["message"] = json.dumps(self.message)
        return {k: str(v) for k, v in fields.items()}

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> AdminMessage:
        return cls.model_validate({**raw, "message": json.loads(raw.get("message", "{}"))})


class QueueFull(Exception):
    pass


class KeyConflict(Exception):
    """The idempotency key was first used with a different message."""


# KEYS: message hash, queue, channel, idempotency key (or ''). ARGV: id, max length,
# queue ttl, message ttl, the request's fingerprint, fields. Returns '<id> <fingerprint>' of
# the message that the key names (ours if we queued it), or 0 when the queue is full.
_SEND = """
if KEYS[4] ~= '' then
  local existing = redis.call('GET', KEYS[4])
  if existing then return existing end
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', KEYS[3], ARGV[1])
local named = ARGV[1] .. ' ' .. ARGV[5]
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], named, 'EX', ARGV[4]) end
return named
"""

# KEYS: queue, processing. ARGV: message key prefix, session id, now, holder.
# Moves ids until one is still queued and young enough; expired ones are marked on the way.
_CLAIM = """
while true do
  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not id then return false end
  local key = ARGV[1] .. id
  local fields = redis.call('HMGET', key, 'status', 'expires_at')
  if fields[1] == 'queued' then
    if tonumber(fields[2]) >= tonumber(ARGV[3]) then
      redis.call('HSET', key, 'status', 'processing', 'session_id', ARGV[2], 'claimed_at', ARGV[3],
        'holder', ARGV[4])
      return id
    end
    redis.call('HSET', key, 'status', 'expired', 'reason', 'not delivered before it expired')
  end
  redis.call('LREM', KEYS[2], 1, id)
end
"""

# KEYS: message hash, processing, session log. ARGV: id, status, reason, session id, now,
# log entry, log ttl.
_FINISH = """
redis.call('LREM', KEYS[2], 1, ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'processed_at', ARGV[5], 'session_id', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[3]) end
redis.call('RPUSH', KEYS[3], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[7])
return 1
"""

# KEYS: processing, queue. ARGV: message key prefix, lease key prefix, lease key suffix,
# the calling session's id, the caller's holder id. Requeues (at the head, in order) what a
# dead session held, and what the caller itself took: it calls this only when it has nothing
# in hand. A live twin of the same session (another holder) keeps what it is handling.
_RECOVER = """
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local requeued = 0
for i = #ids, 1, -1 do
  local id = ids[i]
  local key = ARGV[1] .. id
  local owner, holder = unpack(redis.call('HMGET', key, 'session_id', 'holder'))
  local dead = (not owner) or holder == ARGV[5] or ((not holder) and owner == ARGV[4])
    or redis.call('EXISTS', ARGV[2] .. owner .. ARGV[3]) == 0
  if dead then
    redis.call('LREM', KEYS[1], 1, id)
    if redis.call('HGET', key, 'status') == 'processing' then
      redis.call('HSET', key, 'status', 'queued')
      redis.call('HDEL', key, 'session_id', 'claimed_at', 'holder')
      redis.call('LPUSH', KEYS[2], id)
      requeued = requeued + 1
    end
  end
end
return requeued
"""

_MESSAGE_PREFIX = Keys.admin_message("")
_LEASE_PREFIX, _LEASE_SUFFIX = Keys.session_lease("\0").split("\0")


class AdminQueue:
    """The only code that knows how admin messages are laid out in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_length: int = 1000,
        max_age_s: float = 300.0,
        retention_s: int = 24 * 3600,
        wait_for_aof: bool = True,
    ) -> None:
        self._redis = redis
        self.max_length = max_length
        self.max_age_s = max_age_s
        self.retention_s = retention_s
        self._wait_for_aof = wait_for_aof
        self._send = redis.register_script(_SEND)
        self._claim = redis.register_script(_CLAIM)
        self._finish = redis.register_script(_FINISH)
        self._recover = redis.register_script(_RECOVER)

    async def send(
        self,
        *,
        tenant: str,
        address: str,
        message: dict[str, Any],
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> tuple[AdminMessage, bool]:
        """Queue and announce a message; returns once Redis has it (on disk, with AOF).

        Returns (message, created): a repeated idempotency key gets the first message back,
        if `fingerprint` (what the request asked) matches the first's; else KeyConflict.
        """
        now = time.time()
        record = AdminMessage(
            id=uuid.uuid4().hex,
            tenant=tenant,
            address=address,
            type=str(message.get("type", "")),
            message=message,
            status=AdminStatus.QUEUED,
            created_at=now,
            expires_at=now + self.max_age_s,
        )
        fields = hash_fields(record.to_redis())
        idem = Keys.admin_idempotency(tenant, idempotency_key) if idempotency_key else ""
        sent = await self._send(
            keys=[
                Keys.admin_message(record.id),
                Keys.admin_queue(address),
                Keys.admin_channel(address),
                idem,
            ],
            args=[
                record.id,
                self.max_length,
                int(self.max_age_s) + 1,
                int(self.max_age_s) + self.retention_s,
                fingerprint,
                *fields,
            ],
        )
        if not sent:
            raise QueueFull(f"{self.max_length} messages are already waiting for this bot")
        sent_id, _, first = str(sent).partition(" ")
        if sent_id != record.id:
            # A key written before fingerprints has none: it matches any request.
            if first and first != fingerprint:
                raise KeyConflict(f"the key names message {sent_id}, sent with another body")
            existing = await self.get(sent_id)
            if existing is not None:
                return existing, False
        await self._durable()
        return record, True

    async def _durable(self) -> None:
        """Wait until the server's append-only file has the write (Redis 7.2+, Valkey).

        Without AOF a restart loses what memory held; servers without WAITAOF or without
        AOF are told once in the log and then trusted as configured.
        """
        if not self._wait_for_aof:
            return
        try:
            await self._redis.execute_command("WAITAOF", 1, 0, 1000)  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            self._wait_for_aof = False
            logger.info("admin messages are not fsync-confirmed: {}", exc)

    async def get(self, message_id: str) -> AdminMessage | None:
        raw: dict[str, str] = await self._redis.hgetall(Keys.admin_message(message_id))  # type: ignore[assignment]
        if not raw:
            return None
        record = AdminMessage.from_redis(raw)
        if record.status is AdminStatus.QUEUED and record.expires_at < time.time():
            record = record.model_copy(
                update={"status": AdminStatus.EXPIRED, "reason": "not delivered before it expired"}
            )
        return record

    async def claim(
        self, address: str, session_id: str, *, holder: str | None = None
    ) -> AdminMessage | None:
        """The next message for this address, now held by `session_id`; None when empty.

        `holder` names the claimant within the session (an admin channel), so that its
        `recover` puts back only what it took itself; it defaults to the session id.
        """
        message_id = await self._claim(
            keys=[Keys.admin_queue(address), Keys.admin_processing(address)],
            args=[_MESSAGE_PREFIX, session_id, time.time(), holder or session_id],
        )
        if not message_id:
            return None
        return await self.get(str(message_id))

    async def finish(
        self,
        message: AdminMessage,
        status: AdminStatus,
        *,
        session_id: str,
        reason: str | None = None,
    ) -> None:
        now = time.time()
        entry = {
            "id": message.id,
            "type": message.type,
            "status": status.value,
            "reason": reason,
            "at": now,
        }
        await self._finish(
            keys=[
                Keys.admin_message(message.id),
                Keys.admin_processing(message.address),
                Keys.session_admin_log(session_id),
            ],
            args=[
                message.id,
                status.value,
                reason or "",
                session_id,
                now,
                json.dumps(entry),
                int(self.max_age_s) + self.retention_s,
            ],
        )

    async def recover(self, address: str, session_id: str, *, holder: str | None = None) -> int:
        """Put back what a dead bot (or this holder, with nothing in hand) took and did not
        finish; returns how many."""
        return int(
            await self._recover(
                keys=[Keys.admin_processing(address), Keys.admin_queue(address)],
                args=[
                    _MESSAGE_PREFIX,
                    _LEASE_PREFIX,
                    _LEASE_SUFFIX,
                    session_id,
                    holder or session_id,
                ],
            )
        )

    async def log(self, session_id: str) -> list[dict[str, Any]]:
        entries: list[str] = await self._redis.lrange(Keys.session_admin_log(session_id), 0, -1)  # type: ignore[assignment]
        return [json.loads(entry) for entry in entries]
