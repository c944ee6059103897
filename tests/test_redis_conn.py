"""The shared Redis client under more concurrent commands than it has connections."""

from __future__ import annotations

import asyncio

from voicefleet.redis_conn import connect


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
