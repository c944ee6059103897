"""A burst of 1,000 launches at the whole dev stack: every answer is a 2xx or a deliberate 429
or 503 with Retry-After, and every accepted session reaches a final state.

The tenant may run 10 sessions at once; a session no runner starts within 5 s fails
`no capacity`, one whose client sends no offer fails after 2 s (the pool has 2 runners).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from harness.stack import RunningStack, start_stack, stop_stack_cleanly

pytestmark = pytest.mark.e2e

BURST = 1000


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    running = start_stack(
        "--warm", "1", "--max", "2",
        env={
            "VOICEFLEET_MAX_SESSIONS_PER_TENANT": "10",
            "VOICEFLEET_QUEUE_TIMEOUT_S": "5",
            "RUNNER_FIRST_OFFER_TIMEOUT_S": "2",
        },
    )  # fmt: skip
    yield running
    stop_stack_cleanly(running)


async def test_a_burst_of_launches_gets_only_deliberate_answers(stack: RunningStack) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(
        base_url=stack.url, headers=stack.headers, timeout=60, limits=limits
    ) as http:
        responses = await asyncio.gather(
            *(http.post("/start", json={"transport": "webrtc"}) for _ in range(BURST))
        )
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {200, 429, 503}, statuses
        refused = [r for r in responses if r.status_code != 200]
        assert all(r.headers.get("retry-after") and r.json()["error"]["message"] for r in refused)
        accepted = [r.json()["sessionId"] for r in responses if r.status_code == 200]
        assert 0 < len(accepted) <= 10, statuses

        deadline = time.monotonic() + 60
        records: list[dict] = []
        while time.monotonic() < deadline:
            records = [(await http.get(f"/sessions/{s}")).json() for s in accepted]
            if all(r["status"] in ("ended", "failed") for r in records):
                break
            await asyncio.sleep(0.5)
    reasons = Counter(r.get("reason", "")[:40] for r in records)
    assert all(r["status"] in ("ended", "failed") for r in records), reasons
    print(f"\nburst of {BURST}: {dict(statuses)}; accepted sessions ended: {dict(reasons)}")
