"""A session's launch moments, as the runner records them: cold when the launch had to wait for
its runner to start, warm when a loaded runner was already waiting for it."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from runner.timeline import SessionTimeline


def _count(name: str, start: str) -> float:
    return REGISTRY.get_sample_value(name, {"start": start}) or 0.0


def test_a_launch_older_than_its_runner_is_a_cold_start() -> None:
    now = time.time()
    assert SessionTimeline(launched_at=now - 3, warm_since=now - 1).start == "cold"
    assert SessionTimeline(launched_at=now - 3, warm_since=None).start == "cold"
    assert SessionTimeline(launched_at=now, warm_since=now - 60).start == "warm"


def test_ready_and_first_audio_are_observed_once_each() -> None:
    ready = "voicefleet_runner_launch_to_ready_seconds_count"
    audio = "voicefleet_runner_launch_to_first_audio_seconds_count"
    before = (_count(ready, "cold"), _count(audio, "cold"))
    timeline = SessionTimeline(launched_at=time.time() - 2.5, warm_since=time.time())
    timeline.claimed()
    for _ in range(2):  # a reconnect joins again; the greeting is the first audio only once
        timeline.ready()
        timeline.first_audio()
    assert (_count(ready, "cold") - before[0], _count(audio, "cold") - before[1]) == (1, 1)
    assert timeline.claimed_at is not None and timeline.ready_at is not None
    assert timeline.first_audio_at is not None
    assert (
        timeline.launched_at < timeline.claimed_at <= timeline.ready_at <= timeline.first_audio_at
    )
    total = REGISTRY.get_sample_value(
        "voicefleet_runner_launch_to_first_audio_seconds_sum", {"start": "cold"}
    )
    assert total is not None and total >= 2.5
