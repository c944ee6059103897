"""The dev pool runs the image's pods and follows the runner Service's autoscaling: K calls a
pod, warm, cold, scale-down, self-heal."""

from __future__ import annotations

import asyncio
import time

import httpx
from redis.asyncio import Redis

from devstack.manifests import RunnerScaling
from devstack.pool import RunnerPool, fit_to_host
from tests.support.launches import eventually, launch_event, queued_session
from tests.support.servers import serving
from voicefleet import cloudevents_codec
from voicefleet.contracts import SessionRecord
from voicefleet.session_store import SessionStore
from voicefleet.signalling import SignallingRelay, SignalMessage


async def queued_launch(redis: Redis) -> tuple[dict[str, str], bytes, str]:
    launch = await queued_session(redis)
    headers, body = launch_event(launch)
    return headers, body, launch.session_id


async def wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


def _scaling(min_scale: int, max_scale: int, cpu: float | None) -> RunnerScaling:
    return RunnerScaling(
        min_scale=min_scale,
        max_scale=max_scale,
        scale_down_delay_s=60,
        container_concurrency=1,
        timeout_s=60,
        cpu_request=cpu,
    )


def test_one_host_holds_as_many_runners_as_its_cores_cover() -> None:
    # The shipped manifest (min 2, max 20, one CPU each) on a 2-core dev machine: 2 runners.
    assert fit_to_host(_scaling(2, 20, 1.0), cores=2).max_scale == 2
    assert fit_to_host(_scaling(1, 20, 0.5), cores=2).max_scale == 4
    assert fit_to_host(_scaling(1, 20, 1.5), cores=2).max_scale == 1
    assert fit_to_host(_scaling(1, 20, 4.0), cores=2).max_scale == 1, "never none at all"
    # Within what the host covers, the manifest stands; warm runners asked for are kept.
    assert fit_to_host(_scaling(1, 3, 1.0), cores=8).max_scale == 3
    assert fit_to_host(_scaling(4, 20, 1.0), cores=2).max_scale == 4
    assert fit_to_host(_scaling(1, 20, None), cores=2).max_scale == 20, "no request, no limit"


async def test_pods_of_k_slots_warm_cold_scale_down_and_self_heal(
    redis_url: str, redis: Redis
) -> None:
    scaling = RunnerScaling(
        min_scale=1, max_scale=2, scale_down_delay_s=0.5, container_concurrency=2, timeout_s=60
    )
    # Sessions wait for an offer that never comes (held launches) until the test ends them.
    env = {"REDIS_URL": redis_url, "RUNNER_FIRST_OFFER_TIMEOUT_S": "120"}
    pool = RunnerPool(scaling, env, stop_grace_s=10)
    await pool.start()
    try:
        assert len(pool.pods) == 1 and pool.pods[0].ready.is_set()
        async with serving(pool.app) as url, httpx.AsyncClient(base_url=url, timeout=120) as http:
            launches = [await queued_launch(redis) for _ in range(3)]
            held = [
                asyncio.create_task(http.post("/", headers=h, content=b)) for h, b, _ in launches
            ]
            store = SessionStore(redis)

            async def claimed() -> list[SessionRecord]:
                records = [await store.get(sid) for _, _, sid in launches]
                return [r for r in records if r is not None and r.runner]

            records = await eventually(claimed, lambda r: len(r) == 3, timeout_s=120)
            assert len(records) == 3, records
            runners = [r.runner or "" for r in records]
            assert len(set(runners)) == 3, "each call runs in a process of its own"
            # Two calls share the warm pod; the third waited for a second pod to start.
            pods = sorted(name.rsplit("-", 1)[0] for name in runners)
            assert pods == ["runner-1", "runner-1", "runner-2"], runners
            assert pool.cold_starts == 1
            assert sorted(r.cold_start for r in records) == [False, False, True]
            assert all(r.launch_to_claimed_ms is not None for r in records)
            relay = SignallingRelay(redis)
            for _, _, sid in launches:
                await relay.send(sid, SignalMessage(kind="end", payload={"reason": "bye"}))
            for response in await asyncio.gather(*held):
                ended = cloudevents_codec.data_of(
                    cloudevents_codec.parse(response.headers, response.content)
                )
                assert (ended["status"], ended["reason"]) == ("ended", "bye")

            # Idle past the scale-down delay: back to min-scale.
            assert await wait_for(lambda: len(pool.pods) == 1, 10)

            # A pod that dies is replaced, so the warm pool stays at min-scale.
            survivor = pool.pods[0]
            await survivor.stop(5)
            assert await wait_for(lambda: len(pool.pods) == 1 and pool.pods[0] is not survivor, 10)
            assert await wait_for(lambda: pool.pods[0].ready.is_set(), 60)
    finally:
        await pool.close()
    assert pool.pods == []
