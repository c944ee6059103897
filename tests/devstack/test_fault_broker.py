"""The broker cannot reach any runner: the launch is retried as the shipped Trigger says, then
dead-lettered to the gateway, and the session ends `failed` with that reason.

Real parts throughout: the local broker following `knative/trigger.yaml`, the gateway function
over HTTP as its dead-letter sink, a real Redis; the runner Service resolves to a closed port.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from devstack.broker import LocalBroker
from devstack.manifests import (
    GATEWAY_SERVICE,
    RUNNER_SERVICE,
    default_knative_dir,
    load_triggers,
)
from tests.support.servers import free_port, serving
from tests.support.services import GATEWAY_KEY, apps, served
from voicefleet.redis_conn import connect


async def test_no_runner_reachable_retries_then_dead_letters_and_fails_the_session(
    redis_url: str, tmp_path: Path
) -> None:
    redis = connect(redis_url)
    await redis.flushdb()
    await redis.aclose()
    triggers = load_triggers(default_knative_dir())
    [launch_trigger] = [t for t in triggers if t.subscriber_service == RUNNER_SERVICE]
    urls = {RUNNER_SERVICE: f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    broker = LocalBroker(triggers, urls.__getitem__)
    try:
        async with serving(broker.app) as broker_url:
            async with apps(redis_url, broker_url + "/", tmp_path) as made, served(made) as up:
                urls[GATEWAY_SERVICE] = up.gateway
                async with httpx.AsyncClient(base_url=up.gateway) as client:
                    joined = await client.post(
                        "/join",
                        json={"room_url": "https://acme.daily.co/unreachable"},
                        headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
                    )
                    assert joined.status_code == 202, joined.text
                    session_id = joined.json()["session_id"]
                    started = time.monotonic()
                    await asyncio.wait_for(broker.wait_idle(), 120)
                    waited = time.monotonic() - started
                    record = (
                        await client.get(
                            f"/sessions/{session_id}",
                            headers={"Authorization": f"Bearer {GATEWAY_KEY}"},
                        )
                    ).json()
    finally:
        await broker.close()
    assert broker.stats.retried == launch_trigger.retry  # every retry the Trigger allows
    assert (broker.stats.dead_lettered, broker.stats.delivered) == (1, 0)
    assert record["status"] == "failed", record
    assert record["reason"] == "no runner accepted the launch (last status 500)"
    print(f"\ndead-lettered after {launch_trigger.retry} retries in {waited:.1f}s")
