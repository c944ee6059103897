"""Per-tenant limits and the queue-time bound, as a tenant's backend sees them."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.servers import serving
from tests.support.services import GATEWAY_KEY, apps
from tests.support.sink import CountingSink
from voicefleet.contracts import SessionStatus
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore

ACME = {"Authorization": f"Bearer {GATEWAY_KEY}"}
GLOBEX = {"Authorization": "Bearer key-globex"}

Gateway = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def gateway(redis_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway with the given settings, on an empty Redis, behind a counting broker."""
    redis = connect(redis_url)
    await redis.flushdb()
    await redis.aclose()
    sink = CountingSink()

    @asynccontextmanager
    async def configured(**env: str) -> AsyncIterator[httpx.AsyncClient]:
        async with serving(sink.app) as sink_url, apps(redis_url, sink_url, tmp_path, **env) as a:
            transport = httpx.ASGITransport(app=a.gateway)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield client

    yield configured


async def join(
    client: httpx.AsyncClient, headers: dict[str, str] = ACME, **extra: str
) -> httpx.Response:
    room = f"https://acme.daily.co/{uuid.uuid4().hex[:10]}"
    return await client.post("/join", json={"room_url": room}, headers={**headers, **extra})


async def test_concurrent_sessions_are_capped_per_tenant(gateway: Gateway, redis_url: str) -> None:
    async with gateway(VOICEFLEET_MAX_SESSIONS_PER_TENANT="3") as client:
        burst = await asyncio.gather(*(join(client) for _ in range(10)))
        assert Counter(r.status_code for r in burst) == {202: 3, 429: 7}
        refused = next(r for r in burst if r.status_code == 429)
        assert refused.headers["retry-after"].isdigit()
        assert "3 active sessions" in refused.json()["error"]["message"]
        # Another tenant is not held back by acme's sessions.
        assert (await join(client, GLOBEX)).status_code == 202

        # One of acme's sessions ends: there is room for one more, and only one.
        ended = next(r for r in burst if r.status_code == 202).json()["session_id"]
        redis = connect(redis_url)
        await SessionStore(redis).finish(ended, SessionStatus.ENDED, reason="client left")
        await redis.aclose()
        assert [(await join(client)).status_code for _ in range(2)] == [202, 429]


async def test_launches_per_minute_are_capped_per_tenant(gateway: Gateway) -> None:
    async with gateway(VOICEFLEET_LAUNCHES_PER_MINUTE_PER_TENANT="2") as client:
        statuses = [(await join(client)).status_code for _ in range(2)]
        refused = await join(client)
        assert statuses == [202, 202]
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "in the last minute" in refused.json()["error"]["message"]


async def test_per_tenant_overrides_take_precedence(gateway: Gateway) -> None:
    limits = '{"globex": {"max_sessions": 1}}'
    async with gateway(
        VOICEFLEET_MAX_SESSIONS_PER_TENANT="5", VOICEFLEET_TENANT_LIMITS=limits
    ) as client:
        assert [(await join(client, GLOBEX)).status_code for _ in range(2)] == [202, 429]
        assert [(await join(client)).status_code for _ in range(5)] == [202] * 5


async def test_a_retried_launch_is_not_refused_at_the_limit(gateway: Gateway) -> None:
    async with gateway(VOICEFLEET_MAX_SESSIONS_PER_TENANT="1") as client:
        body, headers = {"room_url": "https://acme.daily.co/x"}, {**ACME, "Idempotency-Key": "k1"}
        first = await client.post("/join", json=body, headers=headers)
        again = await client.post("/join", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json()["session_id"] == first.json()["session_id"]
        assert (await join(client)).status_code == 429


async def test_a_launch_no_runner_starts_in_time_fails_no_capacity(
    gateway: Gateway, redis_url: str
) -> None:
    async with gateway(
        VOICEFLEET_QUEUE_TIMEOUT_S="0.5", VOICEFLEET_MAX_SESSIONS_PER_TENANT="1"
    ) as client:
        session_id = (await join(client)).json()["session_id"]
        assert (await join(client)).status_code == 429
        await asyncio.sleep(0.6)  # past the bound, with no runner

        record = (await client.get(f"/sessions/{session_id}", headers=ACME)).json()
        assert record["status"] == "failed"
        assert record["reason"].startswith("no capacity")
        # It no longer holds the tenant's only slot, and its launch, arriving now, runs no bot.
        assert (await join(client)).status_code == 202
        redis = connect(redis_url)
        claim = await SessionStore(redis).claim(
            session_id, "late-runner", room_url=None, lease_ms=1000
        )
        await redis.aclose()
        assert not claim.claimed


async def test_the_runner_refuses_a_launch_that_waited_too_long(redis_url: str) -> None:
    """Without any sweep (no gateway request), the claim itself applies the bound."""
    from tests.support.launches import queued_session

    redis = connect(redis_url)
    try:
        launch = await queued_session(redis)
        await asyncio.sleep(0.3)
        store = SessionStore(redis)
        claim = await store.claim(
            launch.session_id, "r1", room_url=None, lease_ms=1000, queue_timeout_s=0.2
        )
        record = await store.get(launch.session_id)
    finally:
        await redis.aclose()
    assert (claim.claimed, claim.reason) == (False, "expired")
    assert record is not None and record.status is SessionStatus.FAILED
    assert record.reason is not None and record.reason.startswith("no capacity")
