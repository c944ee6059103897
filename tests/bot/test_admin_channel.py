"""Admin messages between the admin function's queue and a bot's channel, on a real Redis.

What an operator relies on: every acknowledged message is handled exactly once, whether the
bot was listening, arrived later, raced another drain, or Redis restarted in between.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.admin_channel import AdminChannel
from tests.support.launches import eventually
from tests.support.servers import free_port
from voicefleet.admin_queue import AdminMessage, AdminQueue, AdminStatus, QueueFull
from voicefleet.contracts import Keys
from voicefleet.redis_conn import EmbeddedRedis, connect


class Recorder:
    """A bot's handler that remembers what it handled (and can refuse or be slow)."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.handled: list[AdminMessage] = []
        self.delay_s = delay_s

    async def __call__(self, message: AdminMessage) -> str | None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.handled.append(message)
        if message.type == "refuse":
            return "refused on purpose"
        return None

    def texts(self) -> list[str]:
        return [m.message.get("text", "") for m in self.handled]


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    redis, blocking = connect(redis_url), connect(redis_url, blocking=True)
    yield redis, blocking
    await redis.aclose()
    await blocking.aclose()


def _address() -> str:
    return f"https://acme.daily.co/{uuid.uuid4().hex[:8]}"


async def _lease(redis: Redis, session_id: str) -> None:
    """The session is alive, as its runner's heartbeat keeps it."""
    await redis.set(Keys.session_lease(session_id), "runner", px=60_000)


async def _serve(channel: AdminChannel, handle: Recorder) -> asyncio.Task[None]:
    return asyncio.create_task(channel.run(handle))


async def _stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_messages_sent_while_no_bot_listens_are_handled_when_it_arrives(
    clients: tuple[Redis, Redis],
) -> None:
    redis, blocking = clients
    queue, address = AdminQueue(redis), _address()
    sid = uuid.uuid4().hex
    sent = [
        (await queue.send(tenant="acme", address=address, message={"type": "say", "text": t}))[0]
        for t in ("one", "two", "three")
    ]
    assert [(await queue.get(m.id)).status for m in sent] == [AdminStatus.QUEUED] * 3  # type: ignore[union-attr]

    handle = Recorder()
    channel = AdminChannel(queue, blocking, address=address, session_id=sid, tenant="acme")
    task = await _serve(channel, handle)
    try:
        await until(lambda: _count(handle, 3))
        assert handle.texts() == ["one", "two", "three"]
        for message in sent:
            stored = await queue.get(message.id)
            assert stored is not None
            assert (stored.status, stored.session_id) == (AdminStatus.PROCESSED, sid)
            assert stored.processed_at is not None
        assert [e["id"] for e in await queue.log(sid)] == [m.id for m in sent]
    finally:
        await _stop(task)


async def until(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10) -> None:
    assert await eventually(check, bool, timeout_s=timeout_s), "timed out waiting"


async def _count(handle: Recorder, n: int) -> bool:
    return len(handle.handled) >= n


async def test_concurrent_sends_and_competing_drains_handle_each_message_exactly_once(
    clients: tuple[Redis, Redis], redis_url: str
) -> None:
    redis, blocking = clients
    queue, address = AdminQueue(redis), _address()
    sid = uuid.uuid4().hex
    await _lease(redis, sid)
    handle = Recorder()
    # Two channels on the same address (a bot and its stale twin, say) race for every message,
    # and each is woken by pub/sub and drains on its own schedule too.
    other_blocking = connect(redis_url, blocking=True)
    channels = [
        AdminChannel(queue, blocking, address=address, session_id=sid, tenant="acme", poll_s=0.05),
        AdminChannel(
            queue, other_blocking, address=address, session_id=sid, tenant="acme", poll_s=0.05
        ),
    ]
    tasks = [await _serve(c, handle) for c in channels]
    try:
        n = 200
        senders = [AdminQueue(connect(redis_url)) for _ in range(8)]
        results = await asyncio.gather(
            *(
                senders[i % 8].send(
                    tenant="acme", address=address, message={"type": "say", "text": str(i)}
                )
                for i in range(n)
            )
        )
        await until(lambda: _count(handle, n), timeout_s=20)
        await asyncio.sleep(0.3)  # time for a second, wrong handling to show up
        handled_ids = [m.id for m in handle.handled]
        assert len(handled_ids) == n
        assert sorted(handled_ids) == sorted(m.id for m, _ in results)
        assert await redis.llen(Keys.admin_queue(address)) == 0
        assert await redis.llen(Keys.admin_processing(address)) == 0
        for sender in senders:
            await sender._redis.aclose()
    finally:
        await _stop(*tasks)
        await other_blocking.aclose()


async def test_a_message_held_by_a_dead_bot_goes_to_the_next_one(
    clients: tuple[Redis, Redis],
) -> None:
    redis, blocking = clients
    queue, address = AdminQueue(redis), _address()
    message, _ = await queue.send(
        tenant="acme", address=address, message={"type": "say", "text": "x"}
    )
    # A bot took it and died before finishing: its lease is gone.
    taken = await queue.claim(address, "dead-session")
    assert taken is not None and taken.status is AdminStatus.PROCESSING
    await _lease(redis, "s2")

    handle = Recorder()
    channel = AdminChannel(queue, blocking, address=address, session_id="s2", tenant="acme")
    task = await _serve(channel, handle)
    try:
        await until(lambda: _count(handle, 1))
        stored = await queue.get(message.id)
        assert stored is not None and (stored.status, stored.session_id) == (
            AdminStatus.PROCESSED,
            "s2",
        )
    finally:
        await _stop(task)


async def test_a_message_held_by_a_live_bot_is_left_to_it(clients: tuple[Redis, Redis]) -> None:
    redis, _ = clients
    queue, address = AdminQueue(redis), _address()
    await queue.send(tenant="acme", address=address, message={"type": "say", "text": "x"})
    await _lease(redis, "busy")
    assert await queue.claim(address, "busy") is not None
    assert await queue.recover(address, "another") == 0
    assert await queue.claim(address, "another") is None


async def test_a_twin_of_the_session_leaves_what_the_other_is_handling(
    clients: tuple[Redis, Redis],
) -> None:
    redis, _ = clients
    queue, address = AdminQueue(redis), _address()
    await queue.send(tenant="acme", address=address, message={"type": "say", "text": "x"})
    await _lease(redis, "s1")
    assert await queue.claim(address, "s1", holder="s1/a") is not None
    # Idle, the twin recovers: what "a" holds stays with it, however often the twin looks.
    assert await queue.recover(address, "s1", holder="s1/b") == 0
    assert await queue.claim(address, "s1", holder="s1/b") is None
    # "a" itself, with nothing in hand (its handler was cancelled), takes it back.
    assert await queue.recover(address, "s1", holder="s1/a") == 1
    assert await queue.claim(address, "s1", holder="s1/b") is not None


async def test_unknown_and_refused_messages_are_recorded_as_rejected_with_the_reason(
    clients: tuple[Redis, Redis],
) -> None:
    redis, blocking = clients
    queue, address = AdminQueue(redis), _address()
    sid = uuid.uuid4().hex
    refused, _ = await queue.send(tenant="acme", address=address, message={"type": "refuse"})
    foreign, _ = await queue.send(
        tenant="globex", address=address, message={"type": "say", "text": "hi"}
    )
    ok, _ = await queue.send(tenant="acme", address=address, message={"type": "say", "text": "go"})
    handle = Recorder()
    channel = AdminChannel(queue, blocking, address=address, session_id=sid, tenant="acme")
    task = await _serve(channel, handle)
    try:
        await until(lambda: _finished(queue, ok.id))
        first, second = await queue.get(refused.id), await queue.get(foreign.id)
        assert first is not None and (first.status, first.reason) == (
            AdminStatus.REJECTED,
            "refused on purpose",
        )
        # Another tenant's message never reaches this tenant's bot.
        assert second is not None and second.status is AdminStatus.REJECTED
        assert "another tenant" in (second.reason or "")
        assert [m.id for m in handle.handled] == [refused.id, ok.id]
        log = await queue.log(sid)
        assert [(e["id"], e["status"]) for e in log] == [
            (refused.id, "rejected"),
            (foreign.id, "rejected"),
            (ok.id, "processed"),
        ]
    finally:
        await _stop(task)


async def _finished(queue: AdminQueue, message_id: str) -> bool:
    message = await queue.get(message_id)
    return message is not None and message.status is AdminStatus.PROCESSED


async def test_a_message_past_its_age_is_expired_not_handled(
    clients: tuple[Redis, Redis],
) -> None:
    redis, _ = clients
    queue, address = AdminQueue(redis, max_age_s=0.05), _address()
    sid = uuid.uuid4().hex
    message, _ = await queue.send(
        tenant="acme", address=address, message={"type": "say", "text": "late"}
    )
    await asyncio.sleep(0.1)
    stored = await queue.get(message.id)
    assert stored is not None and stored.status is AdminStatus.EXPIRED
    assert await queue.claim(address, sid) is None
    stored = await queue.get(message.id)
    assert stored is not None and stored.status is AdminStatus.EXPIRED


async def test_a_full_queue_refuses_new_messages_and_keeps_the_old(
    clients: tuple[Redis, Redis],
) -> None:
    redis, _ = clients
    queue, address = AdminQueue(redis, max_length=2), _address()
    kept = [
        (await queue.send(tenant="acme", address=address, message={"type": "say", "text": t}))[0]
        for t in "ab"
    ]
    with pytest.raises(QueueFull):
        await queue.send(tenant="acme", address=address, message={"type": "say", "text": "c"})
    assert await redis.lrange(Keys.admin_queue(address), 0, -1) == [m.id for m in kept]


async def test_the_same_idempotency_key_queues_one_message(clients: tuple[Redis, Redis]) -> None:
    redis, _ = clients
    queue, address = AdminQueue(redis), _address()
    key = uuid.uuid4().hex
    first, created = await queue.send(
        tenant="acme", address=address, message={"type": "say", "text": "a"}, idempotency_key=key
    )
    again, created_again = await queue.send(
        tenant="acme", address=address, message={"type": "say", "text": "a"}, idempotency_key=key
    )
    assert (created, created_again, again.id) == (True, False, first.id)
    assert await redis.llen(Keys.admin_queue(address)) == 1


async def test_a_redis_restart_loses_no_acknowledged_message(tmp_path: Path) -> None:
    """Acknowledged means on disk (AOF, fsync always): a restart in the middle of a stream of
    messages loses none of those the admin was told were queued, and handles none twice."""
    port = free_port()
    server = EmbeddedRedis(data_dir=tmp_path, port=port)
    url = await asyncio.to_thread(server.start)
    redis, blocking = connect(url), connect(url, blocking=True)
    sender_redis = connect(url)
    queue, address = AdminQueue(redis), _address()
    sid = uuid.uuid4().hex
    sender = AdminQueue(sender_redis)
    handle = Recorder(delay_s=0.02)
    channel = AdminChannel(queue, blocking, address=address, session_id=sid, tenant="acme")
    task = await _serve(channel, handle)
    acknowledged: list[str] = []
    try:
        for i in range(40):
            message, _ = await sender.send(
                tenant="acme", address=address, message={"type": "say", "text": str(i)}
            )
            acknowledged.append(message.id)
        assert len(handle.handled) < len(acknowledged)  # the restart comes mid-stream
        await asyncio.to_thread(server.stop)
        server = EmbeddedRedis(data_dir=tmp_path, port=port)
        await asyncio.to_thread(server.start)
        for i in range(40, 60):
            message, _ = await sender.send(
                tenant="acme", address=address, message={"type": "say", "text": str(i)}
            )
            acknowledged.append(message.id)
        await until(lambda: _count(handle, len(acknowledged)), timeout_s=20)
        await asyncio.sleep(0.3)
        handled = [m.id for m in handle.handled]
        assert sorted(handled) == sorted(acknowledged)
        assert len(handled) == len(set(handled))
    finally:
        await _stop(task)
        for client in (redis, blocking, sender_redis):
            await client.aclose()
        await asyncio.to_thread(server.stop)
