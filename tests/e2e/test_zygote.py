"""Runners forked from the preloaded zygote serve calls and share its models' pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.memory import children_of, memory_of
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e

# A fresh Python shares no anonymous memory with anyone; a forked runner shares the
# zygote's heap: imported code objects and model weights, well over this much.
SHARED_WITH_ZYGOTE_KB = 100 * 1024


@pytest.fixture(scope="module")
def pool_stack() -> Iterator[RunningStack]:
    running = start_stack("--warm", "2", "--max", "3")
    yield running
    stop_stack_cleanly(running)


def zygote_of(stack: RunningStack) -> int:
    (zygote,) = [
        pid
        for pid in children_of(stack.process.pid)
        if b"runner.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    return zygote


async def test_forked_runners_serve_calls_and_share_the_zygotes_models(
    pool_stack: RunningStack,
) -> None:
    zygote = zygote_of(pool_stack)
    warm = children_of(zygote)
    assert len(warm) == 2, "the warm runners are the zygote's children"
    for pid in warm:
        assert memory_of(pid).shared_anon_kb > SHARED_WITH_ZYGOTE_KB, memory_of(pid)

    # Three calls at once: two warm runners and one cold start, also a fork.
    calls = [WebRTCCall(pool_stack.url, api_key=pool_stack.api_key) for _ in range(3)]
    await asyncio.gather(*(c.connect() for c in calls))
    try:
        await asyncio.gather(*(c.wait_for_audio(30) for c in calls))
        records = [await c.session() for c in calls]
        forked = children_of(zygote)
    finally:
        await asyncio.gather(*(c.close() for c in calls))
    assert len({r["runner"] for r in records}) == 3, records
    assert sorted(r["cold_start"] for r in records) == [False, False, True], records
    assert len(forked) == 3 and set(warm) < set(forked), "the cold runner is a fork too"
    assert sum("ready" in line and "after its fork" in line for line in pool_stack.output) >= 3
