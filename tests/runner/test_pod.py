"""A runner pod (`python -m runner`, RUNNER_SLOTS=K) as Knative runs it: K calls at once, each
in a process of its own forked from the pod's zygote; a killed process ends its call alone."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from redis.asyncio import Redis

from runner.child_process import READY_LINE
from tests.support.launches import eventually, post_launch, queued_session, session_ended
from tests.support.runner_process import runner_process
from tests.support.servers import free_port, serving
from tests.support.sink import CaptureSink
from voicefleet import cloudevents_codec
from voicefleet.contracts import SESSION_REPORT_EVENT, SessionStatus
from voicefleet.event_spool import EventSpool
from voicefleet.session_store import SessionStore
from voicefleet.signalling import SignallingRelay, SignalMessage


@asynccontextmanager
async def pod_process(
    tmp_path: Path, redis_url: str, **env: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """A pod on a loopback port, ready; its output in tmp_path/runner.log."""
    port = free_port()
    async with runner_process(tmp_path, redis_url, PORT=str(port), **env) as pod:
        line = await pod.stdout_line(120)
        assert line.strip() == f"{READY_LINE} port={port}", pod.output()
        yield pod.process, f"http://127.0.0.1:{port}"


def process_named(name: str) -> int:
    """A slot's process: the zygote names each one it forks after its RUNNER_ID."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == name[:15]:
                return int(entry.name)
        except OSError:
            continue
    raise LookupError(f"no process named {name}")


async def readiness(http: httpx.AsyncClient) -> httpx.Response:
    return await http.get("/readyz")


async def test_a_pod_holds_k_calls_and_a_killed_call_ends_alone_with_its_slot_refilled(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    pod_id = f"pod{uuid.uuid4().hex[:6]}"
    store = SessionStore(redis)
    relay = SignallingRelay(redis)
    async with (
        pod_process(
            tmp_path,
            redis_url,
            RUNNER_ID=pod_id,
            RUNNER_SLOTS="2",
            RUNNER_FIRST_OFFER_TIMEOUT_S="60",
        ) as (pod, url),
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        # Two calls at once, each held by a process of its own.
        first, second = await queued_session(redis), await queued_session(redis)
        held = {
            launch.session_id: asyncio.create_task(post_launch(http, "/", launch))
            for launch in (first, second)
        }
        # Full, and still ready: a scale-down ranks it by its deletion cost, not as unready.
        full = await eventually(
            lambda: readiness(http), lambda r: r.json()["free"] == 0, timeout_s=10
        )
        assert full.status_code == 200 and full.json()["ready"] is True
        assert sorted(full.json()["sessions"]) == sorted(held)

        async def runners() -> set[str | None]:
            return {record.runner for sid in held if (record := await store.get(sid))}

        claimed = await eventually(runners, lambda r: None not in r, timeout_s=10)
        assert claimed == {f"{pod_id}-1", f"{pod_id}-2"}

        # Full: a third launch (the activator sends none; one could come past it) is refused
        # with a retryable 503, not queued behind a call nor given a slot that holds one.
        third_launch = await queued_session(redis)
        third = await post_launch(http, "/", third_launch)
        assert third.status_code == 503 and "busy" in third.json()["error"]["message"]
        assert third.headers["retry-after"] == "1"
        untouched = await store.get(third_launch.session_id)
        assert untouched is not None and untouched.status is SessionStatus.QUEUED
        assert sorted((await readiness(http)).json()["sessions"]) == sorted(held)

        # The first call's process is killed: that call alone ends, and says why.
        first_runner = (await store.get(first.session_id)).runner  # type: ignore[union-attr]
        killed_pid = process_named(first_runner or "")
        os.kill(killed_pid, signal.SIGKILL)
        ended = session_ended(await asyncio.wait_for(held[first.session_id], 15))
        assert ended.status == "failed"
        assert ended.reason == "runner process died: signal 9 (SIGKILL)"
        record = await store.get(first.session_id)
        assert record is not None and record.status is SessionStatus.FAILED
        assert record.reason == "runner process died: signal 9 (SIGKILL)"

        # The other call goes on, and the slot is forked again and takes the next launch.
        assert not held[second.session_id].done()
        refilled = await eventually(
            lambda: readiness(http), lambda r: r.json()["free"] == 1, timeout_s=60
        )
        assert refilled.status_code == 200
        assert refilled.json()["sessions"] == [second.session_id]
        assert process_named(f"{pod_id}-3") != killed_pid, "a fresh process, named anew"
        fourth = await queued_session(redis)
        held[fourth.session_id] = asyncio.create_task(post_launch(http, "/", fourth))
        busy = await eventually(
            lambda: readiness(http), lambda r: r.json()["free"] == 0, timeout_s=10
        )
        assert busy.status_code == 200
        assert sorted(busy.json()["sessions"]) == sorted([second.session_id, fourth.session_id])
        for session_id in (second.session_id, fourth.session_id):
            await relay.send(session_id, SignalMessage(kind="end", payload={"reason": "bye"}))
            ended = session_ended(await asyncio.wait_for(held[session_id], 15))
            assert (ended.status, ended.reason) == ("ended", "bye")
        pod.send_signal(signal.SIGTERM)
        await asyncio.wait_for(pod.wait(), 30)


async def _spooled(spool: EventSpool, event_id: str) -> None:
    data = {"session_id": event_id}
    headers, body = cloudevents_codec.encode(
        SESSION_REPORT_EVENT, "/runner/earlier", data, event_id=event_id
    )
    await spool.put(SESSION_REPORT_EVENT, headers, body)


async def test_a_pod_sends_its_spooled_events_when_it_starts_and_before_it_exits(
    tmp_path: Path, redis_url: str
) -> None:
    """What the previous container left in the spool goes to the broker at start; what was
    spooled while the broker was away, before the draining pod exits (SIGTERM), once the
    broker is back."""
    spool = EventSpool(tmp_path / "spool")
    await _spooled(spool, "left-by-the-previous-container")
    sink, port = CaptureSink(), free_port()
    async with pod_process(
        tmp_path,
        redis_url,
        K_SINK=f"http://127.0.0.1:{port}/",
        VOICEFLEET_EVENT_SPOOL_DIR=str(spool.folder),
        VOICEFLEET_EVENT_SPOOL_FLUSH_S="120",
        RUNNER_SLOTS="1",
    ) as (pod, _):
        async with serving(sink.app, port=port):
            first = await sink.next_event(60)
        assert first["id"] == "left-by-the-previous-container" and not spool.waiting()
        # The broker is away; a call ends meanwhile, and the pod is told to stop.
        await _spooled(spool, "written-while-the-broker-was-away")
        pod.send_signal(signal.SIGTERM)
        async with serving(sink.app, port=port):
            second = await sink.next_event(120)
            # It exits once it has drained (uvicorn ends by raising the signal it handled).
            assert await asyncio.wait_for(pod.wait(), 60) in (0, -signal.SIGTERM)
    assert second["id"] == "written-while-the-broker-was-away"
    assert [e["id"] for e in sink.events] == [first["id"], second["id"]]
    assert not spool.waiting()
