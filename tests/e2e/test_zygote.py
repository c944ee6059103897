"""Each runner pod forks its slots from its own preloaded zygote; they serve calls and share the
zygote's models' pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.manifests import default_knative_dir, load_runner_scaling
from devstack.memory import children_of, memory_of
from harness.stack import RunningStack, start_stack, stop_stack_cleanly
from harness.webrtc import WebRTCCall

pytestmark = pytest.mark.e2e

# A fresh Python shares no anonymous memory with anyone; a forked runner shares the
# zygote's heap: imported code objects and model weights, well over this much.
SHARED_WITH_ZYGOTE_KB = 100 * 1024


# The slots of a pod: the runner Service's containerConcurrency, which the dev pool follows.
SLOTS = load_runner_scaling(default_knative_dir()).container_concurrency


@pytest.fixture(scope="module")
def pool_stack() -> Iterator[RunningStack]:
    running = start_stack("--warm", "2", "--max", "3")
    yield running
    stop_stack_cleanly(running)


def zygotes_of(stack: RunningStack) -> list[int]:
    """The pods' zygotes: stack → pod (`python -m runner`) → zygote → slot processes."""
    pods = children_of(stack.process.pid)
    return [
        pid
        for pod in pods
        for pid in children_of(pod)
        if b"runner.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


async def test_each_pod_forks_its_slots_from_its_zygote_and_they_share_its_models(
    pool_stack: RunningStack,
) -> None:
    zygotes = zygotes_of(pool_stack)
    assert len(zygotes) == 2, "a zygote in each warm pod"
    warm = [pid for zygote in zygotes for pid in children_of(zygote)]
    assert len(warm) == 2 * SLOTS, "the warm slots are the zygotes' children"
    for pid in warm:
        assert memory_of(pid).shared_anon_kb > SHARED_WITH_ZYGOTE_KB, memory_of(pid)

    # One call more than the warm slots: those and a cold start, a new pod forking its own.
    calls = [WebRTCCall(pool_stack.url, api_key=pool_stack.api_key) for _ in range(2 * SLOTS + 1)]
    await asyncio.gather(*(c.connect() for c in calls))
    try:
        await asyncio.gather(*(c.wait_for_audio(60) for c in calls))
        records = [await c.session() for c in calls]
        after = zygotes_of(pool_stack)
        forked = [pid for zygote in after for pid in children_of(zygote)]
    finally:
        await asyncio.gather(*(c.close() for c in calls))
    assert len({r["runner"] for r in records}) == len(calls), records
    assert sorted(r["cold_start"] for r in records) == [False] * 2 * SLOTS + [True], records
    assert len(after) == 3 and set(zygotes) < set(after), "the cold pod has a zygote too"
    assert len(forked) == 3 * SLOTS and set(warm) < set(forked), "its slots are forks too"
    forks = sum("ready" in line and "after its fork" in line for line in pool_stack.output)
    assert forks >= 3 * SLOTS
