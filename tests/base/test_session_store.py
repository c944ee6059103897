"""The session store against a real Redis: idempotent creation, the runner's claim and lease,
final statuses that never change, and discarding a session whose launch was never sent."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from voicefleet.contracts import Keys, SessionRecord, SessionStatus, TransportKind
from voicefleet.session_store import SessionStore

ROOM = "https://acme.daily.co/room"
LEASE_MS = 10_000


def record(*, tenant: str = "acme", room_url: str | None = ROOM) -> SessionRecord:
    now = time.time()
    return SessionRecord(
        session_id=uuid.uuid4().hex,
        tenant=tenant,
        status=SessionStatus.QUEUED,
        transport=TransportKind.DAILY if room_url else TransportKind.WEBRTC,
        room_url=room_url,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def store(redis: Redis) -> SessionStore:
    return SessionStore(redis, record_ttl_s=600)


async def created(store: SessionStore, rec: SessionRecord, **kw: str) -> str:
    await store.create(rec, **kw)
    return rec.session_id


# create -----------------------------------------------------------------------------------


async def test_create_stores_the_record_and_its_secret(store: SessionStore, redis: Redis) -> None:
    rec = record()
    session_id = await created(store, rec, secret="room-token")

    assert await store.get(session_id) == rec
    assert await store.secret(session_id) == "room-token"
    assert await redis.zscore(Keys.ACTIVE_SESSIONS, session_id) is not None
    assert 0 < await redis.ttl(Keys.session(session_id)) <= 600


async def test_create_without_secret_stores_none(store: SessionStore) -> None:
    session_id = await created(store, record())
    assert await store.secret(session_id) is None
    assert await store.get("no-such-session") is None


async def test_every_create_is_a_new_session(store: SessionStore) -> None:
    ids = {await created(store, record()) for _ in range(3)}
    assert len(ids) == 3


# claim ------------------------------------------------------------------------------------


async def test_claim_succeeds_once(store: SessionStore) -> None:
    session_id = await created(store, record())

    first = await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)
    second = await store.claim(session_id, "runner-b", room_url=ROOM, lease_ms=LEASE_MS)

    assert (first.claimed, first.reason) == (True, "claimed")
    assert (second.claimed, second.reason) == (False, "held")
    rec = await store.get(session_id)
    assert rec is not None
    assert rec.status is SessionStatus.STARTING
    assert rec.runner == "runner-a"
    assert rec.started_at is not None


async def test_claim_is_idempotent_for_the_holder(store: SessionStore) -> None:
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed


async def test_claim_of_a_missing_session(store: SessionStore) -> None:
    result = await store.claim("nope", "runner-a", room_url=ROOM, lease_ms=LEASE_MS)
    assert (result.claimed, result.reason) == (False, "missing")


async def test_claim_after_finish_is_final(store: SessionStore) -> None:
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed
    assert await store.finish(session_id, SessionStatus.ENDED, room_url=ROOM, reason="bye")

    again = await store.claim(session_id, "runner-b", room_url=ROOM, lease_ms=LEASE_MS)
    assert (again.claimed, again.reason) == (False, "final")


async def test_second_session_in_a_held_room_is_refused(store: SessionStore) -> None:
    first = await created(store, record())
    second = await created(store, record())
    assert (await store.claim(first, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed

    busy = await store.claim(second, "runner-b", room_url=ROOM, lease_ms=LEASE_MS)

    assert (busy.claimed, busy.reason) == (False, "room-busy")
    rec = await store.get(second)
    assert rec is not None and rec.status is SessionStatus.QUEUED  # untouched
    # Another room is free, and the room is free again once the first session finishes.
    other = await created(store, record(room_url="https://acme.daily.co/other"))
    other_room = "https://acme.daily.co/other"
    assert (await store.claim(other, "runner-c", room_url=other_room, lease_ms=LEASE_MS)).claimed
    assert await store.finish(first, SessionStatus.ENDED, room_url=ROOM)
    assert (await store.claim(second, "runner-b", room_url=ROOM, lease_ms=LEASE_MS)).claimed


async def test_webrtc_sessions_have_no_room_lease(store: SessionStore, redis: Redis) -> None:
    a = await created(store, record(room_url=None))
    b = await created(store, record(room_url=None))
    assert (await store.claim(a, "runner-a", room_url=None, lease_ms=LEASE_MS)).claimed
    assert (await store.claim(b, "runner-b", room_url=None, lease_ms=LEASE_MS)).claimed
    assert await redis.keys("room:*") == []


# heartbeat and lease ----------------------------------------------------------------------


async def test_heartbeat_extends_the_lease_of_its_holder(store: SessionStore, redis: Redis) -> None:
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=1_000)).claimed

    assert await store.heartbeat(session_id, "runner-a", room_url=ROOM, lease_ms=60_000)

    assert await redis.pttl(Keys.session_lease(session_id)) > 30_000
    assert await redis.pttl(Keys.room_lease(ROOM)) > 30_000


async def test_heartbeat_of_a_runner_without_the_lease_is_refused(
    store: SessionStore, redis: Redis
) -> None:
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=1_000)).claimed

    assert not await store.heartbeat(session_id, "runner-b", room_url=ROOM, lease_ms=60_000)
    assert not await store.heartbeat("never-claimed", "runner-a", room_url=None, lease_ms=60_000)
    assert await redis.pttl(Keys.session_lease(session_id)) <= 1_000
    assert await redis.get(Keys.session_lease(session_id)) == "runner-a"


async def test_expired_lease_fails_the_session_instead_of_a_takeover(
    store: SessionStore,
) -> None:
    """A runner that stopped renewing its lease died mid-call: the retried launch that follows
    must not start a second bot in its room, and the session records why it ended."""
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=200)).claimed
    assert not (await store.claim(session_id, "runner-b", room_url=ROOM, lease_ms=200)).claimed

    await asyncio.sleep(0.4)

    retry = await store.claim(session_id, "runner-b", room_url=ROOM, lease_ms=LEASE_MS)
    assert (retry.claimed, retry.reason) == (False, "lost")
    rec = await store.get(session_id)
    assert rec is not None and (rec.status, rec.runner) == (SessionStatus.FAILED, "runner-a")
    assert rec.reason is not None and rec.reason.startswith("runner lost")
    # The runner that lost its lease (if it was only cut off) learns it on its next heartbeat.
    assert not await store.heartbeat(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)


async def test_a_sweep_fails_sessions_whose_runner_died(store: SessionStore) -> None:
    running, dead, queued = [await created(store, record(room_url=None)) for _ in range(3)]
    assert (await store.claim(running, "runner-a", room_url=None, lease_ms=LEASE_MS)).claimed
    assert (await store.claim(dead, "runner-b", room_url=None, lease_ms=200)).claimed
    await store.mark_joined(dead)

    await asyncio.sleep(0.4)

    assert await store.expire_all_lost() == [dead]
    statuses = [(await store.get(s)).status for s in (running, dead, queued)]  # type: ignore[union-attr]
    assert statuses == [SessionStatus.STARTING, SessionStatus.FAILED, SessionStatus.QUEUED]


# mark_joined and finish -------------------------------------------------------------------


async def test_mark_joined(store: SessionStore) -> None:
    session_id = await created(store, record())
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed

    await store.mark_joined(session_id)

    rec = await store.get(session_id)
    assert rec is not None
    assert rec.status is SessionStatus.JOINED
    assert rec.joined_at is not None


async def test_mark_joined_never_revives_a_final_or_missing_session(
    store: SessionStore, redis: Redis
) -> None:
    session_id = await created(store, record())
    assert await store.finish(session_id, SessionStatus.ENDED, reason="ended by client")

    await store.mark_joined(session_id)
    await store.mark_joined("gone")

    rec = await store.get(session_id)
    assert rec is not None and rec.status is SessionStatus.ENDED
    assert await redis.exists(Keys.session("gone")) == 0  # no half record that fails to load


async def test_finish_is_idempotent_and_never_overwrites_a_final_status(
    store: SessionStore, redis: Redis
) -> None:
    session_id = await created(store, record(), secret="tok")
    assert (await store.claim(session_id, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed

    assert await store.finish(session_id, SessionStatus.ENDED, room_url=ROOM, reason="client left")
    assert not await store.finish(session_id, SessionStatus.ENDED, room_url=ROOM, reason="again")
    assert not await store.finish(
        session_id, SessionStatus.FAILED, room_url=ROOM, reason="dead letter"
    )

    rec = await store.get(session_id)
    assert rec is not None
    assert (rec.status, rec.reason) == (SessionStatus.ENDED, "client left")
    assert rec.ended_at is not None
    assert await store.secret(session_id) is None
    assert await redis.exists(Keys.session_lease(session_id), Keys.room_lease(ROOM)) == 0
    assert await redis.zscore(Keys.ACTIVE_SESSIONS, session_id) is None


async def test_finish_leaves_another_sessions_room_lease(store: SessionStore, redis: Redis) -> None:
    holder = await created(store, record())
    other = await created(store, record())
    assert (await store.claim(holder, "runner-a", room_url=ROOM, lease_ms=LEASE_MS)).claimed

    assert await store.finish(other, SessionStatus.FAILED, room_url=ROOM, reason="x")

    assert await redis.get(Keys.room_lease(ROOM)) == Keys.session(holder)


async def test_finish_of_a_missing_session_changes_nothing(store: SessionStore) -> None:
    assert not await store.finish("gone", SessionStatus.ENDED)


async def test_finish_refuses_a_status_that_is_not_final(store: SessionStore) -> None:
    session_id = await created(store, record())
    with pytest.raises(ValueError):
        await store.finish(session_id, SessionStatus.JOINED)


# discard ----------------------------------------------------------------------------------


async def test_discard_removes_everything(store: SessionStore, redis: Redis) -> None:
    rec = record()
    session_id = await created(store, rec, secret="tok")
    await redis.set(Keys.idempotency(rec.tenant, "k"), f"{session_id} fingerprint")  # admission's
    await redis.rpush(Keys.session_inbox(session_id), "{}")

    await store.discard(session_id, tenant=rec.tenant, idempotency_key="k")

    assert await store.get(session_id) is None
    assert await store.secret(session_id) is None
    assert await redis.exists(Keys.session_inbox(session_id), Keys.idempotency("acme", "k")) == 0
    assert await redis.zscore(Keys.ACTIVE_SESSIONS, session_id) is None
    # The idempotency key is free again: a retry is admitted as a new launch.
