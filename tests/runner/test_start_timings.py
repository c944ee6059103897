"""A session's launch moments, as the runner records them: cold when the launch had to wait for
its runner to start, warm when a loaded runner was already waiting for it; each moment lands
once in the session record and once in the launch histograms."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY
from redis.asyncio import Redis

from runner.timings import StartTimings
from voicefleet.contracts import SessionRecord, SessionStatus, TransportKind
from voicefleet.session_store import SessionStore


def _count(name: str, start: str) -> float:
    return REGISTRY.get_sample_value(name, {"start": start}) or 0.0


def test_a_launch_older_than_its_runner_is_a_cold_start(redis: Redis) -> None:
    store, now = SessionStore(redis), time.time()
    assert StartTimings(store, "s", created_at=now - 3, runner_ready_at=now - 1).cold_start
    assert not StartTimings(store, "s", created_at=now, runner_ready_at=now - 60).cold_start


async def test_ready_and_first_audio_are_recorded_and_observed_once_each(redis: Redis) -> None:
    store, now = SessionStore(redis), time.time()
    record = SessionRecord(
        session_id="timed",
        tenant="t",
        status=SessionStatus.QUEUED,
        transport=TransportKind.WEBRTC,
        created_at=now - 2.5,
        updated_at=now - 2.5,
    )
    await store.create(record)
    ready = "voicefleet_runner_launch_to_ready_seconds_count"
    audio = "voicefleet_runner_launch_to_first_audio_seconds_count"
    before = (_count(ready, "cold"), _count(audio, "cold"))
    timings = StartTimings(store, "timed", created_at=now - 2.5, runner_ready_at=now)
    await timings.claimed()
    for _ in range(2):  # a reconnect joins again; the greeting is the first audio only once
        await timings.joined()
        await timings.first_audio()
    assert (_count(ready, "cold") - before[0], _count(audio, "cold") - before[1]) == (1, 1)
    total = REGISTRY.get_sample_value(
        "voicefleet_runner_launch_to_first_audio_seconds_sum", {"start": "cold"}
    )
    assert total is not None and total >= 2.5
    stored = await store.get("timed")
    assert stored is not None and stored.cold_start is True
    assert stored.launch_to_claimed_ms is not None and stored.launch_to_claimed_ms >= 2500
    assert stored.claimed_to_ready_ms is not None and stored.ready_to_first_audio_ms is not None
